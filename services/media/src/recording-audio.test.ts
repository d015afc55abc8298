/**
 * A recording at the longest a message may be (VM_MAX_MESSAGE_MS allows an hour) goes from pcap to
 * staged WAV in memory that does not grow with it: rtpengine's pcap is written here as it would
 * be (a synthetic one: an hour of PCMU at 50 packets a second), staged through a real nats-server,
 * and read back.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { NatsConnection } from '@nats-io/nats-core';
import { openStagedAudio, stagingBucket, type StagingBucket } from '@sipvm/contracts';
import { startNats, tempDir, type NatsServer, type TempDir } from '@sipvm/harness';
import { ULAW } from './g711.js';
import { writePcmuPcap } from '../test/support.js';
import { stageRecording } from './recording-audio.js';

const HOUR_MS = 3_600_000;
// What the staging holds, not what it has let go of and the collector has not yet freed: the
// memory is measured right after a collection.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
let nats: NatsServer;
let nc: NatsConnection;
let bucket: StagingBucket;
let dir: TempDir;
before(async () => {
  nats = await startNats();
  nc = await nats.connect({ identity: 'media' });
  bucket = await stagingBucket(nc);
  dir = await tempDir('recording-audio');
});
after(async () => {
  await nc?.close();
  await nats?.close();
  await dir?.remove();
});

test('an hour-long recording is staged whole, in memory that does not grow with it', async () => {
  const pcap = join(dir.path, 'long.pcap');
  await writePcmuPcap(pcap, { packets: HOUR_MS / 20 });
  collectGarbage();
  const before = process.memoryUsage();
  let peak = 0;
  const sampler = setInterval(() => {
    collectGarbage();
    const now = process.memoryUsage();
    peak = Math.max(peak, now.heapUsed + now.external + now.arrayBuffers - (before.heapUsed + before.external + before.arrayBuffers));
  }, 20);
  const started = Date.now();
  let staged;
  try {
    staged = await stageRecording(bucket, 'recording-long-test.wav', {
      pcaps: [pcap],
      codec: 'PCMU',
      payloadType: 0,
      maxDurationMs: HOUR_MS,
      scratchFile: join(dir.path, 'long.pcm'),
    });
  } finally {
    clearInterval(sampler);
  }
  const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
  console.log(
    `an hour of PCMU (${mb(HOUR_MS * 8)} MB of payload) staged as ${mb(staged.audio.size)} MB of WAV in ${Date.now() - started} ms; memory above the start at most ${mb(peak)} MB`,
  );
  assert.equal(staged.durationMs, HOUR_MS);
  assert.equal(staged.audio.size, 44 + HOUR_MS * 16);
  // What the old recorder held at once (pcap, PCM and WAV: about 150 MB) is far beyond this.
  assert.ok(peak < 8 * 2 ** 20, `memory grew by ${mb(peak)} MB`);

  // Read back in its parts: every packet's samples where they belong, the header saying the length.
  let offset = 0;
  let checked = 0;
  for await (const chunk of await openStagedAudio(bucket, staged.audio)) {
    const bytes = Buffer.from(chunk);
    if (offset === 0) assert.equal(bytes.readUInt32LE(40), HOUR_MS * 16, 'the data chunk says an hour');
    // One sample in the middle of each packet whose middle falls in this chunk.
    for (let i = Math.ceil(Math.max(0, offset - 44 - 160) / 320); ; i++) {
      const position = 44 + i * 320 + 160;
      if (position + 2 > offset + bytes.length) break;
      if (position >= offset) {
        assert.equal(bytes.readInt16LE(position - offset), ULAW[i % 251], `packet ${i}`);
        checked++;
      }
    }
    offset += bytes.length;
  }
  assert.equal(offset, staged.audio.size);
  assert.equal(checked, HOUR_MS / 20);
});
