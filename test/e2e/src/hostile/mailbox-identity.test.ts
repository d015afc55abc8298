/**
 * One mailbox however its domain is spelt (SECURITY.md, "Mailbox identities"): storage takes `EXAMPLE.ORG` and
 * `example.org` for the same mailbox at its API's edge, whoever sends the request — the requests
 * here are raw JSON, not passed through the contract's schemas first. The user part stays exact.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/nats-core';
import { stageAudio, stagingBucket, SUBJECTS } from '@sipvm/contracts';
import { smallWav, startNats, startService, tempDir, type NatsServer, type RunningServiceProcess, type TempDir } from '@sipvm/harness';

describe('mailbox identities', () => {
  let nats: NatsServer;
  let storage: RunningServiceProcess;
  let dir: TempDir;
  let nc: NatsConnection;

  before(async () => {
    nats = await startNats();
    dir = await tempDir('mailbox-identity');
    storage = await startService('storage', { NATS_URL: nats.url, STORAGE_BACKEND: 'local', STORAGE_DIR: dir.path });
    nc = await nats.connect();
  });
  after(async () => {
    await nc?.close();
    await storage?.stop();
    await nats?.close();
    await dir?.remove();
  });

  /** A request as any client could send it: JSON as written, no schema in between. */
  const raw = async (subject: string, body: unknown) => {
    const reply = (await nc.request(subject, JSON.stringify(body), { timeout: 10_000 })).json<{
      ok: boolean;
      result?: { counts?: unknown };
      error?: unknown;
    }>();
    assert.ok(reply.ok, JSON.stringify(reply.error));
    return reply.result;
  };

  it('counts a message left for EXAMPLE.ORG in example.org’s mailbox, and not in Alice’s', async () => {
    const audio = await stageAudio(
      await stagingBucket(nc),
      `identity-${process.pid}`,
      (async function* () {
        yield smallWav(1);
      })(),
    );
    await raw(SUBJECTS.storage.messageCreate, {
      mailbox: { did: 'EXAMPLE.ORG', uid: 'alice' },
      sender: 'sip:bob@example.net',
      recordedAt: new Date().toISOString(),
      durationMs: 1000,
      codec: 'PCMU',
      urgent: false,
      audio,
    });
    const counts = async (did: string, uid: string) => (await raw(SUBJECTS.storage.mailboxCount, { mailbox: { did, uid } }))?.counts;
    assert.deepEqual(await counts('example.org', 'alice'), { new: 1, saved: 0, urgentNew: 0, urgentSaved: 0 });
    assert.deepEqual(await counts('Example.Org', 'alice'), { new: 1, saved: 0, urgentNew: 0, urgentSaved: 0 });
    assert.deepEqual(await counts('example.org', 'Alice'), { new: 0, saved: 0, urgentNew: 0, urgentSaved: 0 }, 'the user part is exact');
  });
});
