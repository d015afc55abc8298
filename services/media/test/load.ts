/**
 * Many calls at once through the media service, as the test and the benchmark both run them:
 * each caller opens a session, hears a prompt while it is recorded sending a 1 kHz tone, stops the
 * recording, waits for the playback to finish and hangs up. Returns what each call saw and timings.
 */
import { MediaApi, request } from '@sipvm/contracts';
import { dominantFrequency, sleep, wavSamples, type EndpointCodec } from '@sipvm/harness';
import { openCall, readStaged, waitForFinished, type MediaRig } from './support.js';

export interface CallOutcome {
  ok: boolean;
  error?: string;
  codec: EndpointCodec;
  openMs: number;
  stopRecordingMs: number;
  recordedMs: number;
  recordedHz: number;
  playback: string;
}

const CODECS: EndpointCodec[] = ['PCMU', 'PCMA', 'PCMU', 'PCMA', 'G722'];

export async function runConcurrentCalls(rig: MediaRig, calls: number, toneMs = 1000): Promise<CallOutcome[]> {
  const one = async (index: number): Promise<CallOutcome> => {
    const codec = CODECS[index % CODECS.length]!;
    const outcome: CallOutcome = { ok: false, codec, openMs: 0, stopRecordingMs: 0, recordedMs: 0, recordedHz: 0, playback: '' };
    await sleep((index * 10) % 1000); // callers arrive over a second, not in one instant
    let t = performance.now();
    let call;
    try {
      call = await openCall(rig.nc, codec);
      outcome.openMs = performance.now() - t;
      const instance = call.instance;
      const playbackId = `load-${call.callRef}`;
      await request(rig.nc, MediaApi.play(instance), {
        callRef: call.callRef,
        playbackId,
        items: [{ kind: 'prompt', name: 'goodbye', language: 'en' }, { kind: 'beep' }],
      });
      await request(rig.nc, MediaApi.startRecording(instance), { callRef: call.callRef, maxDurationMs: 60_000 });
      await call.endpoint.sendTone(1000, toneMs);
      t = performance.now();
      const { recording } = await request(rig.nc, MediaApi.stopRecording(instance), { callRef: call.callRef });
      outcome.stopRecordingMs = performance.now() - t;
      if (!recording) throw new Error('no recording');
      const wav = wavSamples(await readStaged(rig.nc, recording.audio));
      outcome.recordedMs = recording.durationMs;
      outcome.recordedHz = dominantFrequency(wav.samples.subarray(Math.floor(wav.samples.length / 4), Math.floor((wav.samples.length * 3) / 4)), 8000, 10);
      outcome.playback = (await waitForFinished(rig, playbackId, 20_000)).reason;
      await request(rig.nc, MediaApi.closeSession(instance), { callRef: call.callRef });
      outcome.ok = outcome.playback === 'completed' && Math.abs(outcome.recordedHz - 1000) <= 10;
      if (!outcome.ok) outcome.error = `playback ${outcome.playback}, recorded ${outcome.recordedHz} Hz`;
    } catch (error) {
      outcome.error = error instanceof Error ? error.message : String(error);
    } finally {
      call?.endpoint.close();
    }
    return outcome;
  };
  return Promise.all(Array.from({ length: calls }, (_, i) => one(i)));
}
