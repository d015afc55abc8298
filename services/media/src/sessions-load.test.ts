/**
 * 100 concurrent calls with playback and recording: no errors, every recording holds the tone,
 * every playback completes, and afterwards rtpengine holds no call (correctness, not speed:
 * timings are printed by bench/media-sessions.bench.mjs).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MediaApi, request } from '@sipvm/contracts';
import { callsInRtpengine, openCall, startMediaRig, type MediaRig } from '../test/support.js';
import { runConcurrentCalls } from '../test/load.js';

let rig: MediaRig;
before(async () => {
  // rtpengine's ng timeout as in production (the shared rig shortens it to test outages quickly).
  rig = await startMediaRig({ ports: 1000, env: { LOG_LEVEL: 'warn', RTPENGINE_TIMEOUT_MS: '1500' } });
});
after(async () => {
  await rig?.stop();
});

test('100 concurrent sessions with playback and recording: no errors, no call left in rtpengine', async () => {
  const started = Date.now();
  const outcomes = await runConcurrentCalls(rig, 100);
  const failures = outcomes.filter((o) => !o.ok);
  console.log(`100 calls in ${Date.now() - started} ms; failures: ${failures.length}`);
  assert.deepEqual(failures, []);
  assert.deepEqual(await callsInRtpengine(rig), []);
  // The check itself sees calls when there are some.
  const call = await openCall(rig.nc, 'PCMU');
  assert.deepEqual(await callsInRtpengine(rig), [call.callRef]);
  await request(rig.nc, MediaApi.closeSession(call.instance), { callRef: call.callRef });
  call.endpoint.close();
  assert.deepEqual(await callsInRtpengine(rig), []);
});
