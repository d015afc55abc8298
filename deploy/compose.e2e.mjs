// `npm run test:compose`: docker-compose.yml for real. Starts a Docker engine when none runs,
// builds every image the file uses (deploy/build-images.mjs: stand-ins only where the internet is
// out of reach), brings the platform up under its own project name on free, non-default ports
// (so it never meets `npm start` on the same host), and calls it the way a SIP proxy would:
// sipp from the host to the SIP port, the project's RTP endpoint speaking a tone. Then it checks
// what a user would: the message is in the mailbox, its audio is the tone, the mail was caught.
// The same again with the `s3` profile (Ceph RGW): the message lands in the bucket. `down -v` at
// the end, and the engine is stopped again if this test started it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { nkeyAuthenticator } from '@nats-io/nats-core';
import { inboxPrefix, readAudio, request, StorageApi, SUBJECTS } from '@sipvm/contracts';
import { freePort, freeTcpUdpPort, RtpEndpoint, udpFree, runSipp, sleep, toneShare, waitFor, wavSamples } from '@sipvm/harness';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { buildImages } from './build-images.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const project = `sipvm-compose-test-${process.pid}`;
const TONE = 1000;
const S3_KEYS = { accessKeyId: 'SIPVMCOMPOSETEST', secretAccessKey: 'compose-test-secret-key' };

/** `docker compose` (v2) when there, else docker-compose 1.29: the file must work with both. */
const composeCli = spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0 ? ['docker', 'compose'] : ['docker-compose'];

/** A block of `count` consecutive free UDP ports below the ephemeral range, clear of `npm start`'s 20000–29999. */
async function freeUdpRange(count) {
  for (let start = 31000 + Math.floor(Math.random() * 40) * count; start + count < 32700; start += count) {
    let ok = true;
    for (let port = start; port < start + count && ok; port++) ok = await udpFree(port);
    if (ok) return { min: start, max: start + count - 1 };
  }
  throw new Error(`no ${count} consecutive free UDP ports in 31000–32700`);
}

describe('docker compose: the platform in containers takes a voicemail call', () => {
  const env = { ...process.env, COMPOSE_PROJECT_NAME: project };
  let engineStarted = false;
  let nc;
  const events = [];
  const compose = (args, extraEnv = {}) => {
    const result = spawnSync(composeCli[0], [...composeCli.slice(1), '-f', join(root, 'docker-compose.yml'), ...args], {
      cwd: root,
      env: { ...env, ...extraEnv },
      encoding: 'utf8',
    });
    if (result.status !== 0) throw new Error(`${composeCli.join(' ')} ${args.join(' ')} failed:\n${result.stderr}${result.stdout}`);
    return result.stdout;
  };
  const logs = () =>
    spawnSync(composeCli[0], [...composeCli.slice(1), '-f', join(root, 'docker-compose.yml'), 'logs', '--no-color', '--tail', '30'], {
      cwd: root,
      env,
      encoding: 'utf8',
    }).stdout;

  before(async () => {
    const engine = spawnSync('bash', [join(root, 'deploy', 'docker-engine.sh'), 'start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    assert.equal(engine.status, 0, 'a Docker engine runs');
    engineStarted = /started dockerd/.test(engine.stdout);
    console.log(engine.stdout.trim());

    const started = Date.now();
    const { standins } = buildImages({ profiles: ['s3', 'monitoring'], log: (line) => console.log(line) });
    console.log(`compose test: images built in ${((Date.now() - started) / 1000).toFixed(0)} s${standins.length ? `; stand-ins: ${standins.join(', ')}` : ''}`);

    const rtp = await freeUdpRange(40);
    // The file-descriptor limits the file asks for, within what this engine may grant.
    const engineLimit = Number(
      spawnSync('docker', ['run', '--rm', '--entrypoint', 'sh', 'sipvm/rtpengine:10.5.3.5', '-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim(),
    );
    const fdLimit = (wanted) => String(Number.isFinite(engineLimit) && engineLimit > 0 ? Math.min(wanted, engineLimit) : wanted);
    // Published ports are bound seconds from now, by docker: below the ephemeral range (ports.ts).
    for (const name of [
      'NATS_PORT',
      'NATS_MONITOR_PORT',
      'DRACHTIO_ADMIN_PORT',
      'RTPENGINE_CLI_PORT',
      'MEDIA_HTTP_PORT',
      'SIGNALING_HTTP_PORT',
      'MAILDEV_WEB_PORT',
      'WEB_PORT',
      'STORAGE_HTTP_PORT',
      'VOICEMAIL_HTTP_PORT',
      'VOICEBOX_HTTP_PORT',
      'WEB_HTTP_PORT',
      'NATS_EXPORTER_PORT',
      'PROMETHEUS_PORT',
      'S3_PORT',
    ])
      env[name] = String(await freePort());
    // SIP, rtpengine's ng port and media's DTMF port take UDP.
    for (const name of ['SIP_PORT', 'RTPENGINE_NG_PORT', 'MEDIA_DTMF_PORT']) env[name] = String(await freeTcpUdpPort());
    Object.assign(env, {
      DRACHTIO_SECRET: `compose-test-${process.pid}`,
      SCRAPE_INTERVAL: '2s',
      S3_ACCESS_KEY: S3_KEYS.accessKeyId,
      S3_SECRET_KEY: S3_KEYS.secretAccessKey,
      RTP_PORT_MIN: String(rtp.min),
      RTP_PORT_MAX: String(rtp.max),
      FD_LIMIT: fdLimit(65536),
      RTPENGINE_FD_LIMIT: fdLimit(131072),
    });
    console.log(
      `compose test: project ${project}, SIP 127.0.0.1:${env.SIP_PORT}, RTP ${rtp.min}-${rtp.max}, NATS ${env.NATS_PORT}, file descriptors ${env.FD_LIMIT}/${env.RTPENGINE_FD_LIMIT}`,
    );
    compose(['up', '-d', '--no-build'], { COMPOSE_PROFILES: 'monitoring' });
    // NATS takes only known keys (SECURITY.md): the test is the operator, with the admin key.
    const adminSeed = compose(['run', '--rm', '--no-deps', '-T', 'nats-auth', 'cat', '/var/lib/sipvm/nats-seeds/admin/nats.nk']).trim();
    assert.match(adminSeed, /^SU[A-Z2-7]{56}$/, 'the admin nkey made by nats-auth');
    nc = await connect({
      servers: `nats://127.0.0.1:${env.NATS_PORT}`,
      authenticator: nkeyAuthenticator(new TextEncoder().encode(adminSeed)),
      inboxPrefix: inboxPrefix('admin'),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    // Without it, nobody gets in.
    await assert.rejects(connect({ servers: `nats://127.0.0.1:${env.NATS_PORT}`, maxReconnectAttempts: 0 }), /Authorization Violation/);
    nc.subscribe(SUBJECTS.call.playbackFinished('voicemail'), { callback: (_error, msg) => events.push(msg.json()) });
  });

  after(async () => {
    await nc?.close();
    try {
      compose(['--profile', 's3', '--profile', 'monitoring', 'down', '-v', '--remove-orphans', '--timeout', '30']);
    } finally {
      if (engineStarted) spawnSync('bash', [join(root, 'deploy', 'docker-engine.sh'), 'stop'], { stdio: 'inherit' });
    }
  });

  /** Every service of the project is up: media and signaling ready (their /readyz on the host), the rest healthy. */
  async function platformReady(services) {
    const ready = async (port) => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok === true;
    const healthy = () => {
      const ps = spawnSync(
        'docker',
        ['ps', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Label "com.docker.compose.service"}} {{.Status}}'],
        { encoding: 'utf8' },
      ).stdout;
      return services.every((service) => new RegExp(`^${service} .*\\(healthy\\)`, 'm').test(ps));
    };
    try {
      await waitFor(async () => healthy() && (await ready(env.MEDIA_HTTP_PORT)) && (await ready(env.SIGNALING_HTTP_PORT)), 180_000, 'the platform to be ready');
    } catch (error) {
      throw new Error(`${error.message}\n${logs()}`);
    }
  }

  /** A caller leaves a message: # skips the greeting, the tone for 3 s after the beep, # ends it. */
  async function leaveMessage(appParam) {
    const phone = await RtpEndpoint.create('PCMU');
    const from = events.length;
    const sipp = runSipp({
      scenario: join(root, 'test', 'sip', 'scenarios', 'voicemail-platform-bye.xml'),
      target: `127.0.0.1:${env.SIP_PORT}`,
      keys: { app_name: 'voicemail', app_param: appParam, rtp_port: String(phone.port) },
      timeoutSeconds: 90,
    });
    try {
      await phone.latchRemote(20_000);
      await phone.sendDigits('#');
      await waitFor(() => events.slice(from).some((e) => e.playbackId === 'p2'), 30_000, 'the beep');
      await sleep(200);
      await phone.sendTone(TONE, 3_000);
      await phone.sendDigits('#');
      const result = await sipp;
      assert.equal(result.exitCode, 0, `sipp failed:\n${result.errors}\n${result.messages.slice(-3000)}\n${logs()}`);
    } finally {
      await sipp.catch(() => undefined);
      phone.close();
    }
  }

  const mailboxOf = (uid) => ({ did: 'example.org', uid });
  async function storedMessage(uid) {
    let messages = [];
    await waitFor(
      async () => (messages = (await request(nc, StorageApi.listMailbox, { mailbox: mailboxOf(uid) })).messages).length > 0,
      30_000,
      `a message in ${uid}'s mailbox`,
    );
    assert.equal(messages.length, 1);
    const [message] = messages;
    const parts = [];
    for await (const chunk of readAudio(nc, { kind: 'message', mailbox: mailboxOf(uid), id: message.id })) parts.push(chunk);
    const share = toneShare(wavSamples(Buffer.concat(parts)).samples, TONE);
    assert.ok(share > 0.5, `the stored audio is the ${TONE} Hz tone the caller sent (share ${share})`);
    return message;
  }

  it('stores the message in the local folder and the mail reaches the catcher, attachment and all', async () => {
    await platformReady(['nats', 'storage', 'rtpengine', 'media', 'drachtio', 'signaling', 'maildev', 'voicemail', 'voicebox', 'web']);
    await leaveMessage("mod=both;eml='alice@example.org';usr=alice;snd='sip:bob@caller.example.org';dom=example.org;");
    const message = await storedMessage('alice');
    assert.equal(message.sender, 'sip:bob@caller.example.org');
    assert.ok(message.durationMs >= 2_500 && message.durationMs <= 4_500, `duration ${message.durationMs} ms`);

    let mails = [];
    await waitFor(
      async () => (mails = await (await fetch(`http://127.0.0.1:${env.MAILDEV_WEB_PORT}/api/email`)).json()).length > 0,
      30_000,
      'the mail in MailDev',
    );
    const [mail] = mails;
    assert.deepEqual(
      mail.to.map((to) => to.address),
      ['alice@example.org'],
    );
    const wav = mail.attachments.find((a) => a.contentType === 'audio/wav');
    assert.ok(wav && wav.size > 40_000, `a WAV of about 3 s is attached (${JSON.stringify(mail.attachments)})`);
    const files = compose(['exec', '-T', 'storage', 'find', '/var/lib/sipvm/storage', '-name', `${message.id}.*`]);
    assert.match(files, new RegExp(`/audio/${message.id}\\.wav$`, 'm'), 'the audio is in the storage volume');

    // The web API: the operator key made on the web-secrets volume issues a token that lists and plays the message.
    const web = `http://127.0.0.1:${env.WEB_PORT}`;
    const operatorKey = compose(['exec', '-T', 'web', 'cat', '/var/lib/sipvm/web/operator-key']).trim();
    const issued = await fetch(`${web}/api/v1/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-operator-key': operatorKey },
      body: JSON.stringify({ mailbox: mailboxOf('alice') }),
    });
    assert.equal(issued.status, 201);
    const { token } = await issued.json();
    const list = await (await fetch(`${web}/api/v1/mailboxes/example.org/alice/messages`, { headers: { authorization: `Bearer ${token}` } })).json();
    assert.deepEqual(
      list.messages.map((m) => m.id),
      [message.id],
    );
    const audio = await fetch(`${web}${list.messages[0].audioUrl}`);
    assert.equal(audio.status, 200);
    assert.equal((await audio.arrayBuffer()).byteLength, message.size, 'the web API plays the stored message');
  });

  it('with the monitoring profile, Prometheus scrapes every service and NATS and has loaded the alert rules', async () => {
    const prometheus = `http://127.0.0.1:${env.PROMETHEUS_PORT}/api/v1`;
    const targets = async () => (await (await fetch(`${prometheus}/targets`)).json()).data.activeTargets;
    try {
      await waitFor(
        async () => {
          const active = await targets().catch(() => []);
          return active.length === 7 && active.every((t) => t.health === 'up');
        },
        120_000,
        'every target up',
      );
    } catch (error) {
      throw new Error(`${error.message}: ${JSON.stringify((await targets().catch(() => [])).map((t) => [t.labels.job, t.health, t.lastError]))}\n${logs()}`);
    }
    const query = async (expr) => (await (await fetch(`${prometheus}/query?query=${encodeURIComponent(expr)}`)).json()).data.result;
    await waitFor(async () => (await query('count(sipvm_ready == 1)'))[0]?.value[1] === '6', 60_000, 'six services ready in Prometheus');
    await waitFor(async () => (await query('nats_jetstream_storage_max_bytes'))[0] !== undefined, 30_000, "NATS's JetStream state in Prometheus");
    const groups = (await (await fetch(`${prometheus}/rules`)).json()).data.groups;
    assert.deepEqual(groups.map((g) => g.name).sort(), ['sipvm-alerts', 'sipvm-recording']);
    for (const rule of groups.flatMap((g) => g.rules)) assert.equal(rule.health, 'ok', `${rule.name}: ${rule.lastError}`);
  });

  it('with the s3 profile, stores the message in Ceph RGW’s bucket', async () => {
    compose(['up', '-d', '--no-build'], { COMPOSE_PROFILES: 's3', STORAGE_BACKEND: 's3' });
    await platformReady(['ceph-rgw', 'storage', 'media', 'signaling', 'voicemail']);
    // storage answers only once the bucket is reachable (its /readyz checks the backend).
    const s3 = new S3Client({ endpoint: `http://127.0.0.1:${env.S3_PORT}`, region: 'us-east-1', forcePathStyle: true, credentials: S3_KEYS });
    const keys = async () =>
      ((await s3.send(new ListObjectsV2Command({ Bucket: 'voicemail', Prefix: 'mailboxes/example.org/carol/' }))).Contents ?? []).map((o) => o.Key);
    await waitFor(async () => Array.isArray(await keys().catch(() => undefined)), 120_000, 'the bucket to answer');
    await leaveMessage("mod=box;usr=carol;snd='sip:bob@caller.example.org';dom=example.org;");
    const message = await storedMessage('carol');
    const stored = await keys();
    assert.ok(stored.includes(`mailboxes/example.org/carol/messages/${message.id}.json`), `metadata in the bucket: ${stored.join(', ')}`);
    assert.ok(stored.includes(`mailboxes/example.org/carol/audio/${message.id}.wav`), `audio in the bucket: ${stored.join(', ')}`);
    s3.destroy();
  });
});
