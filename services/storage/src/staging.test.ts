/**
 * Staging (contracts staging.ts) against a real nats-server: audio of several parts comes back
 * whole, and discarding it — by its parts' sequences, or by name for a reference without them —
 * leaves nothing of it in the stream, twice as well as once.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import { discardStagedAudio, isStaged, openStagedAudio, stageAudio, stagingBucket, STREAMS, type StagingBucket } from '@sipvm/contracts';
import { startNats, type NatsServer } from '@sipvm/harness';

let nats: NatsServer;
let nc: NatsConnection;
let staging: StagingBucket;
before(async () => {
  nats = await startNats();
  nc = await nats.connect();
  staging = await stagingBucket(nc);
});
after(async () => {
  await nc?.close();
  await nats?.close();
});

const audio = (bytes: number) => Buffer.from(Array.from({ length: bytes }, (_, i) => (i * 7) % 256));
const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

it('audio of three parts comes back whole; discarded by its sequences, nothing of it stays', async () => {
  const bytes = audio(2_500_000);
  const staged = await stageAudio(
    staging,
    `parts-${Date.now()}`,
    (async function* () {
      for (let at = 0; at < bytes.length; at += 100_000) yield bytes.subarray(at, at + 100_000);
    })(),
  );
  assert.equal(staged.seqs?.length, 3, 'three parts of at most 960 KiB');
  const back: Uint8Array[] = [];
  for await (const chunk of await openStagedAudio(staging, staged)) back.push(chunk);
  assert.equal(sha(Buffer.concat(back)), sha(bytes));
  const before = (await staging.jsm.streams.info(STREAMS.staging.name)).state.messages;
  await discardStagedAudio(staging, staged);
  assert.equal(await isStaged(staging, staged.name), false);
  assert.equal((await staging.jsm.streams.info(STREAMS.staging.name)).state.messages, before - 3);
  await discardStagedAudio(staging, staged); // twice is fine
});

it('a reference without sequences is discarded by name', async () => {
  const staged = await stageAudio(
    staging,
    `named-${Date.now()}`,
    (async function* () {
      yield audio(1_000);
    })(),
  );
  await discardStagedAudio(staging, { name: staged.name, size: staged.size });
  assert.equal(await isStaged(staging, staged.name), false);
});
