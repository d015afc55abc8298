// Storage benchmark: the real storage service over NATS, against the local folder and S3
// (s3rver on loopback). Prints latency percentiles and throughput; asserts nothing about speed.
//   npm run bench -- storage         (BENCH_MESSAGES=200 by default)
import { request, StorageApi, stageAudio, stagingBucket, readAudio } from '@sipvm/contracts';
import { startNats, startS3, startService, tempDir } from '@sipvm/harness';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 200);
const CONCURRENCY = 20;

const wav = (seconds) => {
  const data = Buffer.alloc(8000 * 2 * seconds);
  for (let i = 0; i < data.length / 2; i++) data.writeInt16LE(Math.round(8000 * Math.sin(i / 3)), i * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(8000, 24);
  h.writeUInt32LE(16000, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
};
const pct = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const ms = (v) => `${v.toFixed(1)} ms`;
async function timed(fn) {
  const t = performance.now();
  const result = await fn();
  return [performance.now() - t, result];
}

async function run(name, env) {
  const nats = await startNats();
  const service = await startService('storage', { NATS_URL: nats.url, LOG_LEVEL: 'warn', ...env });
  const nc = await nats.connect();
  const staging = await stagingBucket(nc);
  const mailbox = { did: 'bench.example', uid: `u${Date.now()}` };
  const audio = wav(10); // a 10-second message, 160 KB
  let n = 0;
  const createOne = async () => {
    const staged = await stageAudio(
      staging,
      `bench-${n++}-${Date.now()}`,
      (async function* () {
        yield audio;
      })(),
    );
    return timed(() =>
      request(nc, StorageApi.createMessage, {
        mailbox,
        sender: 'sip:bench@example.org',
        recordedAt: new Date().toISOString(),
        durationMs: 10_000,
        codec: 'PCMU',
        audio: staged,
      }),
    );
  };

  const createLatencies = [];
  for (let i = 0; i < MESSAGES / 2; i++) createLatencies.push((await createOne())[0]);
  const [parallelMs] = await timed(async () => {
    for (let done = 0; done < MESSAGES / 2; done += CONCURRENCY) {
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, MESSAGES / 2 - done) }, createOne));
    }
  });
  const countLatencies = [];
  for (let i = 0; i < 100; i++) countLatencies.push((await timed(() => request(nc, StorageApi.countMailbox, { mailbox })))[0]);
  const listLatencies = [];
  for (let i = 0; i < 10; i++) listLatencies.push((await timed(() => request(nc, StorageApi.listMailbox, { mailbox })))[0]);

  const big = wav(30 * 60);
  const [stageMs, staged] = await timed(() =>
    stageAudio(
      staging,
      `bench-big-${Date.now()}`,
      (async function* () {
        for (let o = 0; o < big.length; o += 1 << 20) yield big.subarray(o, o + (1 << 20));
      })(),
    ),
  );
  const [ingestMs, created] = await timed(() =>
    request(nc, StorageApi.createMessage, {
      mailbox,
      sender: 'sip:bench@example.org',
      recordedAt: new Date().toISOString(),
      durationMs: 1_800_000,
      codec: 'PCMU',
      audio: staged,
    }),
  );
  const [readMs] = await timed(async () => {
    let bytes = 0;
    for await (const chunk of readAudio(nc, { kind: 'message', mailbox, id: created.message.id })) bytes += chunk.length;
    if (bytes !== big.length) throw new Error(`read ${bytes} of ${big.length} bytes`);
  });
  const mb = big.length / 1e6;

  console.log(`\n## storage: ${name}`);
  console.log(
    `create (10 s message, sequential, n=${MESSAGES / 2}): p50 ${ms(pct(createLatencies, 50))}  p95 ${ms(pct(createLatencies, 95))}  p99 ${ms(pct(createLatencies, 99))}`,
  );
  console.log(`create (${CONCURRENCY} concurrent, n=${MESSAGES / 2}): ${(MESSAGES / 2 / (parallelMs / 1000)).toFixed(0)} messages/s`);
  console.log(`count  (mailbox of ${MESSAGES} messages, n=100): p50 ${ms(pct(countLatencies, 50))}  p95 ${ms(pct(countLatencies, 95))}`);
  console.log(`list   (mailbox of ${MESSAGES} messages, n=10): p50 ${ms(pct(listLatencies, 50))}  p95 ${ms(pct(listLatencies, 95))}`);
  console.log(
    `30-minute message (${mb.toFixed(1)} MB): stage ${(mb / (stageMs / 1000)).toFixed(0)} MB/s, ingest ${(mb / (ingestMs / 1000)).toFixed(0)} MB/s, read back ${(mb / (readMs / 1000)).toFixed(0)} MB/s`,
  );
  await nc.close();
  await service.stop();
  await nats.close();
}

const dir = await tempDir('bench-storage');
await run('local folder', { STORAGE_BACKEND: 'local', STORAGE_DIR: dir.path });
await dir.remove();
const s3 = await startS3();
await run('S3 (s3rver on loopback)', s3.env);
await s3.close();
