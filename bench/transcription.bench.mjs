// The offline transcription engine measured (BENCHMARKS.md, transcription): how many words Debian's pocketsphinx gets
// wrong in the project's own test speech (TEST_SENTENCES in test/harness/src/speech.ts, spoken by
// espeak-ng at 8 kHz), and what it costs in CPU per second of audio.
//
//   npm run bench -- transcription
//   npm run bench -- transcription --voice en-us --wpm 150
//
// It starts its own platform on loopback (nats-server, drachtio-server, rtpengine, and the
// signaling, media, storage and voicemail services, the e2e rig of test/e2e) with transcription
// on, and leaves each sentence as a voicemail through a real call: sipp places it, the project's
// RTP endpoint speaks it (PCMU) after the beep and presses #. The transcriber (voicemail, one
// message at a time, niceness 19) hears the stored message; what it heard is compared with what
// was said (word error rate: substitutions, deletions and insertions per word said). The same
// sentences also go to the engine straight from espeak-ng's 8 kHz audio, without the call, to
// show what the call path changes.
//
// CPU: the engine's child processes (sox and pocketsphinx_batch) as the kernel accounts them to
// the process that waited for them — voicemail's `sipvm_transcription_engine_cpu_seconds_total`
// for the calls, this process's own account (/proc/self/stat) for the direct runs — per second
// of audio heard; and the fixed cost of one run (loading the model) from a second of silence.
// Nothing here is asserted: the figures go to BENCHMARKS.md as they are.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { request, StorageApi, wavHeader } from '@sipvm/contracts';
import { RtpEndpoint, spokenPcm, spokenWav, startService, TEST_SENTENCES, wordErrors } from '@sipvm/harness';
import { startSignalingRig } from '../test/e2e/dist/rig.js';
import { pocketsphinxEngine } from '../services/voicemail/dist/transcription/pocketsphinx.js';
import { childCpuSeconds } from '../services/voicemail/dist/transcription/transcriber.js';

const { values: options } = parseArgs({ options: { voice: { type: 'string', default: 'en-us' }, wpm: { type: 'string', default: '150' } } });
const voice = { voice: options.voice, wordsPerMinute: Number(options.wpm) };
const MODEL = '/usr/share/pocketsphinx/model/en-us';
const DOMAIN = 'example.org';

const sentences = TEST_SENTENCES.map((text) => ({ text, pcm: spokenPcm(text, voice) }));
const dir = await mkdtemp(join(tmpdir(), 'sipvm-bench-transcription-'));

// ---------------------------------------------------------------- the engine alone, from espeak-ng's 8 kHz audio

const engine = pocketsphinxEngine({ bin: 'pocketsphinx_batch', sox: 'sox', modelDir: MODEL, nice: 19 });
const hearFile = async (wav) => {
  const workDir = await mkdtemp(join(dir, 'job-'));
  const wavFile = join(workDir, 'message.wav');
  await writeFile(wavFile, wav);
  const cpuBefore = await childCpuSeconds();
  const started = performance.now();
  const text = await engine.hear({ wavFile, workDir, language: 'en', signal: AbortSignal.timeout(300_000) });
  const result = { text, cpu: (await childCpuSeconds()) - cpuBefore, wallS: (performance.now() - started) / 1000 };
  await rm(workDir, { recursive: true, force: true });
  return result;
};
const silence = await hearFile(Buffer.concat([wavHeader(16_000), Buffer.alloc(16_000)]));
const direct = [];
for (const sentence of sentences) direct.push(await hearFile(spokenWav(sentence.text, voice)));

// ---------------------------------------------------------------- through a real call

const rig = await startSignalingRig({ LOG_LEVEL: 'warn' }, { storage: true });
const calls = [];
let voicemail;
try {
  voicemail = await startService('voicemail', { NATS_URL: rig.nats.url, LOG_LEVEL: 'warn', VM_TRANSCRIPTION: 'on', TRANSCRIBE_CONCURRENCY: '1' });
  for (const [index, sentence] of sentences.entries()) {
    const uid = `bench-${process.pid}-${index}`;
    const mailbox = { did: DOMAIN, uid };
    const phone = await RtpEndpoint.create('PCMU');
    const from = rig.events.length;
    const sipp = rig.sipp('voicemail-platform-bye.xml', {
      keys: { app_name: 'voicemail', app_param: `mod=box;usr=${uid};dom=${DOMAIN};snd='sip:caller@example.net';lng=en;`, rtp_port: String(phone.port) },
      timeoutSeconds: 90,
    });
    try {
      await phone.latchRemote(15_000).catch(async (error) => {
        const result = await sipp.catch((e) => e);
        throw new Error(`${error.message}\n${JSON.stringify(result).slice(0, 3000)}\n${rig.explain()}`);
      });
      await phone.sendDigits('#');
      await rig.waitFor(
        () =>
          rig.events
            .slice(from)
            .some((e) => e.subject === 'vm.call.voicemail.playback-finished' && e.event.playbackId === 'p2' && typeof e.event.recordingStartedAt === 'string'),
        'the recording to start',
        30_000,
      );
      await phone.sendPcm(sentence.pcm);
      await phone.sendDigits('#');
      const result = await sipp;
      if (result.exitCode !== 0) throw new Error(`sipp failed (${result.exitCode}): ${result.errors.slice(-500)}`);
    } finally {
      await sipp.catch(() => undefined);
      phone.close();
    }
    const hungUp = performance.now();
    let message;
    await rig.waitFor(
      async () => {
        [message] = (await request(rig.nc, StorageApi.listMailbox, { mailbox, limit: 1, transcripts: true })).messages;
        return message?.transcript !== undefined;
      },
      `the transcript of sentence ${index + 1}`,
      120_000,
    );
    const transcript = message.transcript;
    calls.push({
      text: transcript.status === 'done' ? transcript.text : '',
      status: transcript.status,
      seconds: message.durationMs / 1000,
      settledS: (performance.now() - hungUp) / 1000,
    });
  }
  var engineCpu = await voicemail.metric('sipvm_transcription_engine_cpu_seconds_total');
  var engineAudio = await voicemail.metric('sipvm_transcription_audio_seconds_total');
} finally {
  await voicemail?.stop();
  await rig.stop();
  await rm(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------- figures

const total = (rows, field) => rows.reduce((sum, row) => sum + row[field], 0);
const rate = (heard) => {
  const errors = sentences.map((s, i) => wordErrors(s.text, heard[i].text));
  return { errors, overall: total(errors, 'errors') / total(errors, 'words') };
};
const viaCall = rate(calls);
const viaFile = rate(direct);
const audioSeconds = sentences.map((s) => s.pcm.length / 8000);

console.log(
  `voice: espeak-ng ${voice.voice}, ${voice.wordsPerMinute} words/min, 8 kHz; engine: pocketsphinx_batch (Debian 0.8+5prealpha, en-us model), niceness 19\n`,
);
console.log('| # | words | audio s | WER via the call | WER direct | CPU s direct | heard through the call |');
console.log('|---|---|---|---|---|---|---|');
for (const [i, s] of sentences.entries()) {
  console.log(
    `| ${i + 1} | ${viaCall.errors[i].words} | ${audioSeconds[i].toFixed(1)} | ${viaCall.errors[i].rate.toFixed(2)} | ${viaFile.errors[i].rate.toFixed(2)} | ${direct[i].cpu.toFixed(2)} | ${calls[i].text || `(${calls[i].status})`} |`,
  );
  void s;
}
const words = total(viaCall.errors, 'words');
console.log(
  `\nword error rate, all ${sentences.length} sentences (${words} words): through the call ${(viaCall.overall * 100).toFixed(1)} %, straight from espeak-ng ${(viaFile.overall * 100).toFixed(1)} %`,
);
console.log(
  `CPU per second of audio: through the call ${(engineCpu / engineAudio).toFixed(3)} s (voicemail's children: ${engineCpu.toFixed(2)} s for ${engineAudio.toFixed(1)} s of messages); direct ${(
    total(direct, 'cpu') /
    total(
      audioSeconds.map((a) => ({ a })),
      'a',
    )
  ).toFixed(3)} s`,
);
console.log(`fixed cost of one run (model load, 1 s of silence): ${silence.cpu.toFixed(2)} CPU s, ${silence.wallS.toFixed(2)} s`);
const settled = calls.map((c) => c.settledS).sort((a, b) => a - b);
console.log(
  `caller's hang-up → transcript stored: median ${settled[Math.floor(settled.length / 2)].toFixed(1)} s, max ${settled.at(-1).toFixed(1)} s (messages of ${Math.min(...calls.map((c) => c.seconds)).toFixed(1)}–${Math.max(...calls.map((c) => c.seconds)).toFixed(1)} s)`,
);
