/**
 * S3 goes away and comes back: calls that need it fail at once with storage-unavailable (not a
 * NATS time-out) while counts, kept in NATS, are still answered; the service stays up and says it
 * is not ready, and everything works again — with every stored message intact — when S3 returns.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { isServiceError, request, StorageApi, type ServiceError } from '@sipvm/contracts';
import { startS3, waitFor, type S3Server } from '@sipvm/harness';
import { readAll, smallWav, stage, startStorageRig, type StorageRig } from '../test/support.js';

let s3: S3Server;
let rig: StorageRig;
before(async () => {
  s3 = await startS3();
  rig = await startStorageRig({ ...s3.env, S3_CONNECT_TIMEOUT_MS: '500' });
});
after(async () => {
  await rig?.stop();
  await s3?.close();
});

it('fails fast while S3 is unreachable and recovers when it returns', async () => {
  const mailbox = { did: 'example.org', uid: 'outage' };
  const wav = smallWav(1);
  const create = async () =>
    request(rig.nc, StorageApi.createMessage, {
      mailbox,
      sender: 'sip:bob@example.org',
      recordedAt: new Date().toISOString(),
      durationMs: 1000,
      codec: 'PCMU',
      audio: await stage(rig.staging, wav),
    });
  const { message } = await create();

  await s3.stop();
  const refused = await request(rig.nc, StorageApi.listMailbox, { mailbox }).then(
    () => assert.fail('listing succeeded without S3'),
    (error: unknown) => error as ServiceError,
  );
  // The storage service answered (a NATS time-out would be service-unavailable), naming the cause.
  assert.ok(isServiceError(refused, 'storage-unavailable'), `got ${refused.kind}: ${refused.message}`);
  assert.match(refused.message, /s3:\/\/voicemail/);
  await assert.rejects(create(), (e) => isServiceError(e, 'storage-unavailable'));
  // The counts are kept in NATS, not listed from S3: MWI and the voicebox summary go on.
  assert.deepEqual((await request(rig.nc, StorageApi.countMailbox, { mailbox })).counts, { new: 1, saved: 0, urgentNew: 0, urgentSaved: 0 });
  const health = await fetch(`http://127.0.0.1:${rig.service.httpPort}/healthz`);
  assert.equal(health.status, 200, 'the process is alive');
  await waitFor(async () => (await rig.service.readyz()).status === 503, 10_000, '/readyz to report the outage');

  await s3.start();
  await waitFor(async () => (await rig.service.readyz()).status === 200, 10_000, '/readyz to recover');
  const { counts } = await request(rig.nc, StorageApi.countMailbox, { mailbox });
  assert.deepEqual(counts, { new: 1, saved: 0, urgentNew: 0, urgentSaved: 0 }, 'the refused create stored nothing; the first is intact');
  assert.ok((await readAll(rig.nc, { kind: 'message', mailbox, id: message.id })).equals(Buffer.from(wav)));
});
