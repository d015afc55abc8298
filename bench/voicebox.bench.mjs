// Voicebox benchmark: what a voicebox session (the summary, the first messages, a few keys) costs
// into a mailbox of 7,000 messages and into one of 10 — the CPU of voicebox, storage and
// nats-server per session, and the size of the call's record in KV. Starts its own nats-server,
// storage (local folder) and voicebox service; the bench itself stands in for signaling (it
// starts the calls and ends them when voicebox hangs up) and for media (it answers play requests,
// ends prompts at once and presses the caller's keys while messages play), so the figures are
// voicebox's and storage's own, without SIP or RTP.
//
//   npm run bench -- voicebox                 20 sessions into each mailbox (after 2 to warm up)
//   npm run bench -- voicebox --sessions 50 --large 7000 --small 10
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { BUCKETS, CallApi, encodeJson, MediaApi, openKv, request, serve, SignalingApi, StorageApi, SUBJECTS } from '@sipvm/contracts';
import { fillMailbox, startNats, startService, tempDir } from '@sipvm/harness';
import { sampleProcesses } from './lib/processes.mjs';

const { values: options } = parseArgs({
  options: {
    sessions: { type: 'string', default: '20' },
    large: { type: 'string', default: '7000' },
    small: { type: 'string', default: '10' },
    /** Keys pressed while messages play ("next", then the exit key ends the session). */
    keys: { type: 'string', default: '666*' },
  },
});
const SESSIONS = Number(options.sessions);
const DOMAIN = 'bench.example';
const SIGNALING = 'bench-signaling';
const MEDIA = 'bench-media';

const dir = await tempDir('bench-voicebox');
const nats = await startNats();
const storage = await startService('storage', { NATS_URL: nats.url, STORAGE_BACKEND: 'local', STORAGE_DIR: dir.path, LOG_LEVEL: 'warn' });
const voicebox = await startService('voicebox', { NATS_URL: nats.url, LOG_LEVEL: 'warn' });
const nc = await nats.connect();
const mailboxes = { large: { did: DOMAIN, uid: 'large' }, small: { did: DOMAIN, uid: 'small' } };
const t0 = performance.now();
await fillMailbox(dir.path, mailboxes.large, { count: Number(options.large), readEvery: 3 });
await fillMailbox(dir.path, mailboxes.small, { count: Number(options.small), readEvery: 3 });
console.log(`mailboxes filled: ${options.large} and ${options.small} messages (${((performance.now() - t0) / 1000).toFixed(1)} s)`);

// The stand-ins for signaling and media, and the record sizes seen in KV.
const calls = new Map(); // callRef → { callId, keys: string[], ended(): void }
const recordBytes = new Map(); // callRef → largest record
const at = () => new Date().toISOString();
const publish = (subject, event) => nc.publish(subject, encodeJson(event));
const subs = [
  serve(nc, MediaApi.play(MEDIA), async (req) => {
    const call = calls.get(req.callRef);
    const message = req.items.some((item) => item.kind === 'message');
    setTimeout(() => {
      if (!call) return;
      // A message plays until the caller presses a key; prompts end at once.
      if (message && call.keys.length > 0)
        publish(SUBJECTS.call.digit('voicebox'), { callRef: req.callRef, callId: call.callId, at: at(), digit: call.keys.shift(), source: 'rfc4733' });
      else
        publish(SUBJECTS.call.playbackFinished('voicebox'), {
          callRef: req.callRef,
          callId: call.callId,
          at: at(),
          playbackId: req.playbackId,
          reason: 'completed',
        });
    }, 2);
    return { playbackId: req.playbackId, durationMs: 0 };
  }),
  serve(nc, MediaApi.stopPlayback(MEDIA), async () => ({ stopped: true })),
  serve(nc, SignalingApi.hangup(SIGNALING), async (req) => {
    const call = calls.get(req.callRef);
    if (call) {
      publish(SUBJECTS.call.ended('voicebox'), { callRef: req.callRef, callId: call.callId, at: at(), reason: 'app-hangup' });
      call.ended();
    }
    return { ended: true };
  }),
];
const kv = await openKv(nc, BUCKETS.voiceboxCalls, { ttl: 4 * 3600 * 1000 });
const watch = await kv.watch();
void (async () => {
  for await (const entry of watch) if (entry.operation === 'PUT') recordBytes.set(entry.key, Math.max(recordBytes.get(entry.key) ?? 0, entry.value.length));
})();
await nc.flush();

async function session(mailbox) {
  const callRef = randomBytes(12).toString('hex');
  const callId = `bench-${callRef}@voicebox`;
  const ended = new Promise((resolve) => calls.set(callRef, { callId, keys: [...options.keys], ended: resolve }));
  await request(nc, CallApi.start('voicebox'), {
    callRef,
    callId,
    at: at(),
    app: 'voicebox',
    params: {
      user: mailbox.uid,
      domain: DOMAIN,
      uid: mailbox.uid,
      did: DOMAIN,
      sender: 'sip:bench@bench.example',
      greetingType: 'vm',
      language: 'en',
      extra: {},
    },
    signalingInstance: SIGNALING,
    mediaInstance: MEDIA,
    mediaNode: 'default',
    codec: 'PCMU',
    earlyMedia: false,
  });
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error(`session ${callRef} did not end in 30 s`)), 30_000));
  await Promise.race([ended, timeout]);
  calls.delete(callRef);
  return recordBytes.get(callRef) ?? 0;
}

const processes = [
  { pid: voicebox.pid, role: 'voicebox' },
  { pid: storage.pid, role: 'storage' },
  { pid: nats.pid(), role: 'nats-server' },
];
const results = [];
for (const [name, mailbox] of Object.entries(mailboxes)) {
  const { counts } = await request(nc, StorageApi.countMailbox, { mailbox });
  for (let i = 0; i < 2; i++) await session(mailbox); // warm-up (and storage's first count of the mailbox)
  const sampler = sampleProcesses(processes, 200);
  const started = performance.now();
  const sizes = [];
  for (let i = 0; i < SESSIONS; i++) sizes.push(await session(mailbox));
  const seconds = (performance.now() - started) / 1000;
  const used = sampler.stop();
  results.push({ name, messages: counts.new + counts.saved, seconds, used, record: Math.max(...sizes) });
}

console.log(
  `\n## voicebox sessions: summary, ${options.keys.length - 1} keys "next" while messages play, then exit; ${SESSIONS} sessions per mailbox, one at a time`,
);
console.log(
  '| mailbox | messages | voicebox CPU ms/session | storage CPU ms/session | nats-server CPU ms/session | total | call record (largest) | wall time/session |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const r of results) {
  const per = (role) => ((r.used.get(role)?.cpuSeconds ?? 0) * 1000) / SESSIONS;
  const total = per('voicebox') + per('storage') + per('nats-server');
  console.log(
    `| ${r.name} | ${r.messages} | ${per('voicebox').toFixed(1)} | ${per('storage').toFixed(1)} | ${per('nats-server').toFixed(1)} | ${total.toFixed(1)} | ${(r.record / 1024).toFixed(1)} KiB | ${((r.seconds * 1000) / SESSIONS).toFixed(0)} ms |`,
  );
}
console.log('(CPU from /proc at 10 ms resolution, summed over the sessions and divided.)');

watch.stop();
for (const sub of subs) sub.unsubscribe();
await nc.close();
await voicebox.stop();
await storage.stop();
await nats.close();
await dir.remove();
