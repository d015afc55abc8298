/**
 * Greetings and messages live in storage (a real storage service process): media reads them with
 * ranged reads and plays them; a recording staged by media becomes a stored message that plays
 * back as it was recorded. Operators' prompt recordings win over the built ones.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MediaApi, request, stageAudio, stagingBucket, StorageApi } from '@sipvm/contracts';
import { correlation, dominantFrequency, startService, tempDir, tonePcm, type RunningServiceProcess } from '@sipvm/harness';
import { openCall, recordTone, startMediaRig, waitForFinished, type MediaRig } from '../test/support.js';
import { encodeWav } from './wav.js';

let rig: MediaRig;
let storage: RunningServiceProcess;
let dirs: { path: string; remove(): Promise<void> };
before(async () => {
  dirs = await tempDir('media-stored');
  const overrides = join(dirs.path, 'prompts');
  rig = await startMediaRig({ env: { PROMPTS_OVERRIDE_DIR: overrides } });
  storage = await startService('storage', { NATS_URL: rig.nats.url, STORAGE_BACKEND: 'local', STORAGE_DIR: join(dirs.path, 'store') });
});
after(async () => {
  await storage?.stop();
  await rig?.stop();
  await dirs?.remove();
});

const pcmOf = (samples: Int16Array) => Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);

/** Plays `items` to a fresh PCMU caller and returns what it heard. */
async function hear(items: Parameters<typeof request<ReturnType<typeof MediaApi.play>>>[2]['items']): Promise<Int16Array> {
  const call = await openCall(rig.nc, 'PCMU');
  await call.endpoint.sendSilence(60);
  const playbackId = `p${call.callRef}`;
  const { durationMs } = await request(rig.nc, MediaApi.play(call.instance), { callRef: call.callRef, playbackId, items });
  assert.equal((await waitForFinished(rig, playbackId, durationMs + 5000)).reason, 'completed');
  await request(rig.nc, MediaApi.closeSession(call.instance), { callRef: call.callRef });
  call.endpoint.close();
  return call.endpoint.receivedPcm();
}

test('a personal greeting from storage is played to the caller', async () => {
  const mailbox = { did: 'example.com', uid: 'alice' };
  // A sweep from 300 Hz to 1500 Hz: unlike a steady tone, only the right alignment correlates.
  const greeting = Int16Array.from({ length: 12000 }, (_, i) => Math.round(12000 * Math.sin(2 * Math.PI * (300 * (i / 8000) + 600 * (i / 8000) ** 2))));
  const staged = await stageAudio(
    await stagingBucket(rig.nc),
    `greeting-test-${Date.now()}`,
    (async function* () {
      yield encodeWav(pcmOf(greeting));
    })(),
  );
  await request(rig.nc, StorageApi.putGreeting, { mailbox, type: 'vm', audio: staged });
  const heard = await hear([{ kind: 'greeting', mailbox, type: 'vm' }]);
  const { value } = correlation(heard, greeting, 4000);
  console.log(`greeting from storage: correlation ${value.toFixed(4)}`);
  assert.ok(value > 0.9, `correlation ${value}`);
});

test('a recording stored as a message plays back as recorded', async () => {
  const recording = await recordTone(rig.nc, 'PCMA', 600, 1200);
  const mailbox = { did: 'example.com', uid: 'bob' };
  const { message } = await request(rig.nc, StorageApi.createMessage, {
    mailbox,
    sender: 'sip:carol@example.com',
    recordedAt: recording.startedAt,
    durationMs: recording.durationMs,
    codec: recording.codec,
    audio: recording.audio,
    idempotencyKey: recording.audio.name,
  });
  const heard = await hear([{ kind: 'message', mailbox, id: message.id }]);
  const peak = dominantFrequency(heard.subarray(2000, 8000));
  console.log(`stored message played back: dominant ${peak} Hz`);
  assert.ok(Math.abs(peak - 600) <= 10, `${peak} Hz`);
});

test("an operator's recording for the domain wins, then the language's, then the built prompt", async () => {
  const overrides = rig.mediaEnv.PROMPTS_OVERRIDE_DIR!;
  await mkdir(join(overrides, 'example.com', 'en'), { recursive: true });
  await mkdir(join(overrides, 'en'), { recursive: true });
  // The domain's goodbye is 700 Hz, the language-wide one 1300 Hz (16 kHz, to be converted).
  await writeFile(join(overrides, 'example.com', 'en', 'goodbye.wav'), encodeWav(pcmOf(tonePcm(700, 800))));
  const wide = tonePcm(1300, 800, 0.5, 16000);
  await writeFile(join(overrides, 'en', 'goodbye.wav'), encodeWav(pcmOf(wide), 16000));
  const peak = async (domain?: string) =>
    dominantFrequency((await hear([{ kind: 'prompt', name: 'goodbye', language: 'en', ...(domain ? { domain } : {}) }])).subarray(800, 4800));
  assert.ok(Math.abs((await peak('example.com')) - 700) <= 10);
  assert.ok(Math.abs((await peak('other.example')) - 1300) <= 10);
  // German has no override: the built German prompt (speech, not a tone).
  const german = await hear([{ kind: 'prompt', name: 'goodbye', language: 'de', domain: 'example.com' }]);
  assert.ok(german.length > 2000);
  const f = dominantFrequency(german);
  assert.ok(Math.abs(f - 700) > 20 && Math.abs(f - 1300) > 20, `German goodbye is speech, not an override tone (${f} Hz)`);
});

test('a just-recorded greeting is played back from staging before it is kept (annrecorder)', async () => {
  const recording = await recordTone(rig.nc, 'G722', 450, 1000);
  const heard = await hear([{ kind: 'staged', audio: recording.audio }]);
  const peak = dominantFrequency(heard.subarray(1000, 7000));
  console.log(`staged recording played back: dominant ${peak} Hz`);
  assert.ok(Math.abs(peak - 450) <= 10, `${peak} Hz`);
});
