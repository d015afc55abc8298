/**
 * Retention with a clock (docs/behaviour.md §6): the mailbox store and retention's schedule as the
 * storage service runs them — a real folder, a real nats-server holding the counts and the
 * schedule — with time moved by the test. Unheard and saved messages go when their domain's days
 * are up, the owner is told some days before, and a sweep reads only the mailboxes that are due.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import { BUCKETS, eraseKvKey, openKv, type Mailbox, type MailboxNotice, type StagedAudio } from '@sipvm/contracts';
import { createLogger, Domains } from '@sipvm/service';
import { smallWav, startNats, tempDir, type NatsServer, type TempDir } from '@sipvm/harness';
import { bytesOf } from './blobs.js';
import { LocalBlobStore } from './local-blobs.js';
import { MailboxCountKeeper } from './mailbox-counts.js';
import { MailboxStore, type MailboxChange } from './mailbox-store.js';
import { Retention } from './retention.js';
import { retentionPolicies } from './retention-policy.js';

const DAY = 24 * 3600 * 1000;
const HOUR = 3600 * 1000;

describe('retention, with a clock', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let dir: TempDir;
  let store: MailboxStore;
  let retention: Retention;
  /** The test's clock. A message's time of hearing is its read marker's (the file system's clock), so the test starts at the real now. */
  let now = Date.now();
  const changes: MailboxChange[] = [];
  const notices: MailboxNotice[] = [];
  const swept: string[] = [];
  const wav = smallWav(1);
  const audio: StagedAudio = { name: 'retention-test', size: wav.length };
  const alice: Mailbox = { did: 'short.example', uid: 'alice' };
  const bob: Mailbox = { did: 'keep.example', uid: 'bob' };
  const owner = { user: 'alice', domain: 'short.example', email: 'alice@example.org', language: 'fr' };

  before(async () => {
    nats = await startNats();
    nc = await nats.connect();
    dir = await tempDir('retention');
    const blobs = new LocalBlobStore(dir.path);
    await blobs.init();
    const log = createLogger('storage', 'test', 'warn');
    const policy = retentionPolicies(Domains.parse({ 'short.example': { retentionNewDays: 30, retentionSavedDays: 7, retentionWarnDays: 3 } }), {
      newDays: 0,
      savedDays: 0,
      warnDays: 0,
    });
    const jsm = await jetstreamManager(nc);
    const schedule: { retention?: Retention } = {};
    store = new MailboxStore(blobs, {
      retention: policy,
      openStaged: async () => bytesOf(wav),
      onChange: async (change) => void changes.push(change),
      onNotice: async (notice) => void notices.push(notice),
      onExpiry: (mailbox, at, who) => schedule.retention!.expiresAt(mailbox, at, who),
      counts: new MailboxCountKeeper(await openKv(nc, BUCKETS.mailboxCounts, { history: 1 })),
      log,
      now: () => now,
    });
    const sweep = store.sweep.bind(store);
    store.sweep = async (mailbox) => {
      swept.push(`${mailbox.uid}@${mailbox.did}`);
      return sweep(mailbox);
    };
    retention = new Retention({
      kv: await openKv(nc, BUCKETS.retention, { history: 1 }),
      store,
      policy,
      notify: async (notice) => void notices.push(notice),
      erase: (key) => eraseKvKey(jsm, BUCKETS.retention, key),
      log,
      instance: 'test',
      now: () => now,
    });
    schedule.retention = retention;
  });
  after(async () => {
    await nc?.close();
    await nats?.close();
    await dir?.remove();
  });

  const leave = (mailbox: Mailbox, recordedAt: number, withOwner = false) =>
    store.createMessage({
      mailbox,
      sender: 'sip:+4930@example.net',
      recordedAt: new Date(recordedAt).toISOString(),
      durationMs: 1000,
      codec: 'PCMU',
      urgent: false,
      audio,
      admitted: false,
      ...(withOwner ? { owner } : {}),
    });
  const ids = async (mailbox: Mailbox) =>
    (
      await store.listMailbox(mailbox, { offset: 0, limit: 100, filter: 'all', heard: [], order: 'oldest-first', urgentFirst: false, fromEnd: false })
    ).messages.map((m) => [m.recordedAt.slice(5, 10), m.read]);
  /** Moves the clock and sweeps; returns the mailboxes the sweep read. */
  const sweepAt = async (time: number) => {
    now = time;
    swept.length = 0;
    await retention.sweep();
    return [...swept];
  };

  it('deletes saved messages 7 days after they were heard and new ones 30 days after they arrived, telling the owner 3 days before', async () => {
    const base = now;
    const near = (iso: string | undefined, expected: number) => iso !== undefined && Math.abs(Date.parse(iso) - expected) < 60_000;
    await leave(alice, base - HOUR, true);
    await leave(alice, base - HOUR + 1000, true);
    const heard = await leave(alice, base - HOUR + 2000, true);
    await leave(alice, base + 10 * DAY, true);
    await leave(bob, base - 400 * DAY); // a domain without retention keeps everything
    // Fifty more mailboxes of the domain, due in four weeks: no sweep before then reads them.
    for (let i = 0; i < 50; i++) await leave({ did: 'short.example', uid: `other${i}` }, base + DAY);
    await store.markMessage(alice, heard.message.id, true); // saved now: goes in 7 days, told in 4

    assert.deepEqual(await sweepAt(base + 2 * DAY), [], 'nothing is due in two days');
    assert.deepEqual(await sweepAt(base + 4 * DAY + 2 * HOUR), ['alice@short.example'], 'day 4: only the mailbox that is due');
    assert.equal(notices.length, 1);
    const told = notices[0]!;
    assert.equal(told.kind, 'messages-expiring');
    assert.ok(told.kind === 'messages-expiring' && told.expiring === 1 && near(told.expiresAt, base + 7 * DAY), JSON.stringify(told));
    assert.equal(told.owner?.email, 'alice@example.org', "the owner as the messages' profile said");
    assert.equal((await ids(alice)).length, 4, 'told, not yet deleted');

    assert.deepEqual(await sweepAt(base + 7 * DAY + 2 * HOUR), ['alice@short.example'], 'day 7: the saved message goes');
    assert.equal((await ids(alice)).length, 3);
    assert.ok(!(await ids(alice)).some(([, read]) => read), 'the saved one is the one gone');
    assert.ok(
      changes.some((c) => c.change === 'message-expired' && c.messageId === heard.message.id),
      'a mailbox event (MWI follows)',
    );
    assert.equal((await store.countMailbox(alice)).new, 3);

    // Day 27: the two unheard since day 0 expire on day 30 — told once.
    notices.length = 0;
    assert.deepEqual(await sweepAt(base + 27 * DAY + 2 * HOUR), ['alice@short.example']);
    assert.ok(
      notices.length === 1 && notices[0]!.kind === 'messages-expiring' && notices[0]!.expiring === 2 && near(notices[0]!.expiresAt, base + 30 * DAY - HOUR),
      JSON.stringify(notices),
    );
    notices.length = 0;
    await sweepAt(base + 27 * DAY + 8 * HOUR);
    assert.deepEqual(notices, [], 'told once, not at every sweep');

    assert.ok((await sweepAt(base + 30 * DAY + 2 * HOUR)).includes('alice@short.example'), 'day 30: the two go');
    assert.equal((await ids(alice)).length, 1);
    assert.equal((await ids(bob)).length, 1, 'the domain without retention keeps its message');
    assert.ok(!swept.includes('bob@keep.example'));
  });
});
