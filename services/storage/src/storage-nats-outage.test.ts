/**
 * NATS goes away and comes back: the storage service keeps running, says it is not ready, and
 * serves again after reconnecting by itself — with the mailbox events stream intact.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { request, stagingBucket, StorageApi } from '@sipvm/contracts';
import { freePort, sleep, startService, tempDir, waitFor } from '@sipvm/harness';
import { lastMailboxEvent, smallWav, stage, startStorageRig, type StorageRig } from '../test/support.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let rig: StorageRig;
before(async () => {
  dir = await tempDir('storage');
  rig = await startStorageRig({ STORAGE_BACKEND: 'local', STORAGE_DIR: dir.path });
});
after(async () => {
  await rig?.stop();
  await dir?.remove();
});

it('survives a NATS outage and serves again when NATS returns', async () => {
  const mailbox = { did: 'example.org', uid: 'nats-outage' };
  await rig.nats.stop();
  await waitFor(async () => (await rig.service.readyz()).status === 503, 10_000, '/readyz to report NATS down');
  const health = await fetch(`http://127.0.0.1:${rig.service.httpPort}/healthz`);
  assert.equal(health.status, 200, 'the process stays up');

  await rig.nats.start();
  await waitFor(async () => (await rig.service.readyz()).status === 200, 15_000, '/readyz to recover');
  await rig.nc.close();
  rig.nc = await rig.nats.connect();
  rig.staging = await stagingBucket(rig.nc);
  const { created, counts } = await request(
    rig.nc,
    StorageApi.createMessage,
    {
      mailbox,
      sender: 'sip:carol@example.org',
      recordedAt: new Date().toISOString(),
      durationMs: 1000,
      codec: 'PCMU',
      audio: await stage(rig.staging, smallWav()),
    },
    { timeoutMs: 10_000 },
  );
  assert.equal(created, true);
  assert.equal(counts.new, 1);
  assert.deepEqual((await lastMailboxEvent(rig.nc))?.mailbox, mailbox);
});

it('is not ready before it ever reached NATS', async () => {
  const unreachable = `nats://127.0.0.1:${await freePort()}`;
  const service = await startService('storage', { NATS_URL: unreachable, STORAGE_BACKEND: 'local', STORAGE_DIR: dir.path }, { waitReady: false });
  try {
    for (let i = 0; i < 10; i++) {
      const { status, body } = await service.readyz();
      assert.equal(status, 503, JSON.stringify(body));
      assert.deepEqual(body, { ok: false, checks: { accepting: true, started: false, nats: false } });
      await sleep(50);
    }
  } finally {
    await service.stop();
  }
});
