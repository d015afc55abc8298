#!/usr/bin/env node
// Starts the whole platform on this machine as local processes — the same layout as
// docker-compose.yml, without containers: nats-server with JetStream, rtpengine, drachtio-server,
// then each service. State lives under .local/ (override with SIPVM_HOME). Ctrl-C stops
// everything in reverse order.
//
// Environment: SIPVM_HOME (state folder, default .local), NATS_PORT (4222), NATS_MONITOR_PORT
// (8222, on 127.0.0.1), SIP_PORT (5060, on
// 127.0.0.1: point your proxy there), DRACHTIO_BIN (drachtio-server, else found on PATH; without
// it SIP is not started and the rest runs), RTP_PORT_MIN/RTP_PORT_MAX (rtpengine's range,
// 20000–29999), RTPENGINE_LOG_LEVEL (5, notice; 6 logs every ng command), RTPENGINE_LOG_LEVEL_CORE
// (rtpengine's core subsystem: 4, warning, unless RTPENGINE_LOG_LEVEL is above 5), RTPENGINE_THREADS
// (its packet threads; default half the cores, at least one), RTPENGINE_MEDIA_THREADS (its
// playback threads, default 1: see deploy/rtpengine/entrypoint.sh), TIMER_SLACK_NS (how late
// the kernel may wake rtpengine, nats-server and drachtio-server from a timed sleep; 2000000,
// 2 ms, by default, 0 for the kernel's 50 µs: see deploy/rtpengine/entrypoint.sh), DRACHTIO_LOG_LEVEL
// (notice: no SIP messages in the log, which carry PINs; info or debug print them),
// SIPVM_NODE_ARGS (extra node arguments for the services, e.g. for profiling), SIPVM_PORT_OFFSET
// (added to the fixed local ports — health 9101–9106, drachtio's 9022, rtpengine's 22222/22223 —
// so that a second platform runs beside the first; give it its own NATS_PORT, SIP_PORT, WEB_PORT,
// RTP range and SIPVM_HOME too), and every service's own variables (see the README), which are
// passed through.
//
// Credentials are made on the first start and kept under .local/ (SECURITY.md): an nkey per
// service on NATS (.local/nats/auth/<identity>.nk; admin.nk for your own tools, bench.nk for the
// benchmarks), drachtio-server's admin secret, and the web service's operator key and token secret.
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { resolve, join } from 'node:path';
import { NATS_IDENTITIES, seedFile, writeNatsAuth } from '@sipvm/contracts';

const root = resolve(new URL('..', import.meta.url).pathname);
const home = resolve(process.env.SIPVM_HOME ?? join(root, '.local'));
const natsPort = process.env.NATS_PORT ?? '4222';
const natsUrl = `nats://127.0.0.1:${natsPort}`;
// SIPVM_NODE_ARGS: extra node arguments for every service, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
const nodeArgs = (process.env.SIPVM_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
const service = (name) => [process.execPath, ...nodeArgs, join(root, 'services', name, 'dist', 'main.js')];
const sipPort = process.env.SIP_PORT ?? '5060';
const timerSlackNs = process.env.TIMER_SLACK_NS ?? '2000000';
if (!/^\d{1,10}$/.test(timerSlackNs)) {
  console.error(`TIMER_SLACK_NS must be a whole number of nanoseconds (2000000 is 2 ms), not ${JSON.stringify(timerSlackNs)}`);
  process.exit(64);
}
const portOffset = Number(process.env.SIPVM_PORT_OFFSET ?? 0);
/** One of the fixed local ports, moved by SIPVM_PORT_OFFSET. */
const port = (base) => String(base + portOffset);
const onPath = (bin) => spawnSync('sh', ['-c', `command -v "${bin}"`], { encoding: 'utf8' }).stdout.trim();
const drachtio = process.env.DRACHTIO_BIN ?? onPath('drachtio');

// RTP: 4 ports per call. The default range (below Linux's ephemeral ports) holds 2500 calls.
const rtpPorts = { min: Number(process.env.RTP_PORT_MIN ?? 20000), max: Number(process.env.RTP_PORT_MAX ?? 29999) };
// rtpengine beside media (docs/design.md: same host, shared folders), in userspace, recording pcaps.
const media = {
  ng: `127.0.0.1:${port(22222)}`,
  dtmf: `127.0.0.1:${port(22223)}`,
  recordings: join(home, 'rtpengine', 'recordings'),
  play: join(home, 'media', 'play'),
};
const rtpengineLogLevel = process.env.RTPENGINE_LOG_LEVEL ?? '5';
mkdirSync(media.recordings, { recursive: true });
mkdirSync(media.play, { recursive: true });
writeFileSync(
  join(home, 'rtpengine', 'rtpengine.conf'),
  [
    '[rtpengine]',
    'table = -1',
    'interface = 127.0.0.1',
    `listen-ng = ${media.ng}`,
    `port-min = ${rtpPorts.min}`,
    `port-max = ${rtpPorts.max}`,
    `recording-dir = ${media.recordings}`,
    'recording-method = pcap',
    'recording-format = raw',
    `dtmf-log-dest = ${media.dtmf}`,
    'delete-delay = 0',
    // notice: no line per ng command (media pings every second); `info` logs every command and SDP.
    `log-level = ${rtpengineLogLevel}`,
    // Its core notices are two lines per call ("Creating new call", "Turning on call recording")
    // that the services' own call lines already say: deploy/rtpengine/entrypoint.sh.
    `log-level-core = ${process.env.RTPENGINE_LOG_LEVEL_CORE ?? (Number(rtpengineLogLevel) > 5 ? rtpengineLogLevel : '4')}`,
    // Threads: deploy/rtpengine/entrypoint.sh says why these defaults.
    `num-threads = ${process.env.RTPENGINE_THREADS ?? Math.max(1, Math.floor(availableParallelism() / 2))}`,
    `media-num-threads = ${process.env.RTPENGINE_MEDIA_THREADS ?? 1}`,
    'log-stderr = true',
    'foreground = true',
    '',
  ].join('\n'),
);
/** A secret made once under .local/ and read back from then on. */
function localSecret(...path) {
  const file = join(home, ...path);
  mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
  if (!existsSync(file)) writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  return { file, value: readFileSync(file, 'utf8').trim() };
}

// NATS with authentication and the platform's permissions (packages/contracts/src/permissions.ts):
// every service connects with its own nkey, made on the first start and kept.
const natsAuth = join(home, 'nats', 'auth');
writeNatsAuth({ configDir: natsAuth, identities: NATS_IDENTITIES });
writeFileSync(
  join(home, 'nats', 'nats.conf'),
  [
    `listen: 127.0.0.1:${natsPort}`,
    // Monitoring (/varz, /jsz) on loopback: what operators and the deposit benchmark read.
    `http: 127.0.0.1:${process.env.NATS_MONITOR_PORT ?? '8222'}`,
    `jetstream { store_dir: ${JSON.stringify(join(home, 'nats'))} }`,
    'include ./auth/permissions.conf',
    '',
  ].join('\n'),
);
const natsIdentity = (name) => ({ NATS_NKEY_FILE: seedFile(natsAuth, name) });

const drachtioSecret = localSecret('drachtio', 'secret').value;
mkdirSync(join(home, 'drachtio'), { recursive: true });
writeFileSync(
  join(home, 'drachtio', 'drachtio.conf.xml'),
  `<drachtio>
  <admin port="${port(9022)}" secret="${drachtioSecret}">127.0.0.1</admin>
  <sip><contacts><contact>sip:127.0.0.1:${sipPort};transport=udp,tcp</contact></contacts></sip>
  <cdrs>false</cdrs>
  <logging><console/><sofia-loglevel>${process.env.DRACHTIO_LOG_LEVEL === 'debug' ? 9 : 0}</sofia-loglevel><loglevel>${process.env.DRACHTIO_LOG_LEVEL ?? 'notice'}</loglevel></logging>
</drachtio>
`,
  { mode: 0o600 },
);

// The web service's secrets: made once under .local/web/ unless the environment names its own.
const webPort = process.env.WEB_PORT ?? '8080';
const webSecrets = {};
for (const [name, file] of [
  ['WEB_OPERATOR_KEY', 'operator-key'],
  ['WEB_TOKEN_SECRET', 'token-secret'],
]) {
  if (process.env[name] || process.env[`${name}_FILE`]) continue;
  webSecrets[`${name}_FILE`] = localSecret('web', file).file;
}

/** What runs, in start order. `port` is the health/metrics port of a service. */
const components = [
  {
    name: 'nats',
    command: ['nats-server', '-c', join(home, 'nats', 'nats.conf')],
    timerSlack: true,
    ready: /Server is ready/,
  },
  {
    name: 'storage',
    command: service('storage'),
    env: { STORAGE_BACKEND: 'local', STORAGE_DIR: join(home, 'storage'), HTTP_PORT: port(9101), ...natsIdentity('storage') },
    ready: /"msg":"started"/,
  },
  {
    name: 'rtpengine',
    // No core file: rtpengine 10.5 can crash on SIGTERM with recordings open (the pcaps stay).
    command: [
      'sh',
      '-c',
      'ulimit -c 0 && exec "$0" "$@"',
      'rtpengine',
      `--config-file=${join(home, 'rtpengine', 'rtpengine.conf')}`,
      '--config-section=rtpengine',
      `--pidfile=${join(home, 'rtpengine', 'rtpengine.pid')}`,
    ],
    timerSlack: true,
    // At log level notice rtpengine prints nothing when it is up: ask it (ng `ping`).
    ready: () => ngPing(media.ng),
  },
  {
    name: 'media',
    command: service('media'),
    env: {
      RTPENGINE_NG: media.ng,
      RTPENGINE_RECORDING_DIR: media.recordings,
      MEDIA_PLAY_DIR: media.play,
      MEDIA_DTMF_LISTEN: media.dtmf,
      // Built on the first start (espeak-ng, sox); PROMPTS_DIR shares one set between state folders.
      PROMPTS_DIR: process.env.PROMPTS_DIR ?? join(home, 'prompts'),
      HTTP_PORT: port(9102),
      ...natsIdentity('media'),
    },
    ready: /"msg":"started"/,
  },
  ...(drachtio
    ? [
        {
          name: 'drachtio',
          // --disable-nat-detection: see deploy/drachtio/entrypoint.sh (a one-packet crash otherwise).
          // The admin secret is in the config file, not on the command line (where `ps` shows it).
          command: [
            drachtio,
            '-f',
            join(home, 'drachtio', 'drachtio.conf.xml'),
            '--contact',
            `sip:127.0.0.1:${sipPort};transport=udp,tcp`,
            '--port',
            port(9022),
            '--disable-nat-detection',
          ],
          timerSlack: true,
          ready: /Starting|listening|drachtio/i,
        },
        {
          name: 'signaling',
          command: service('signaling'),
          env: { DRACHTIO_HOST: '127.0.0.1', DRACHTIO_PORT: port(9022), DRACHTIO_SECRET: drachtioSecret, HTTP_PORT: port(9104), ...natsIdentity('signaling') },
          ready: /"msg":"started"/,
        },
      ]
    : []),
  {
    // Mails go to SMTP_HOST:SMTP_PORT (default 127.0.0.1:25); without a relay there they are
    // retried, then reported on vm.mail.failed.
    name: 'voicemail',
    command: service('voicemail'),
    env: { HTTP_PORT: port(9103), ...natsIdentity('voicemail') },
    ready: /"msg":"started"/,
  },
  {
    // The voicebox and annrecorder applications; they need only NATS (storage, media and
    // signaling are reached through it).
    name: 'voicebox',
    command: service('voicebox'),
    env: { HTTP_PORT: port(9105), ...natsIdentity('voicebox') },
    ready: /"msg":"started"/,
  },
  {
    // The HTTP API, the web inbox and webhooks (services/web/README.md), on 127.0.0.1:WEB_PORT.
    name: 'web',
    command: service('web'),
    env: { HTTP_PORT: port(9106), WEB_PORT: webPort, ...webSecrets, ...natsIdentity('web') },
    ready: /"msg":"started"/,
  },
];

/** Whether rtpengine answers an ng `ping` at host:port within a second. */
function ngPing(address) {
  const [host, port] = address.split(':');
  return new Promise((resolvePing) => {
    const socket = createSocket('udp4');
    const done = (up) => {
      clearTimeout(timer);
      socket.close();
      resolvePing(up);
    };
    const timer = setTimeout(() => done(false), 1_000);
    socket.on('message', (reply) => done(reply.toString().includes('pong')));
    socket.on('error', () => done(false));
    socket.send('start-local d7:command4:pinge', Number(port), host);
  });
}

mkdirSync(home, { recursive: true });
const running = [];
let stopping = false;

function start(component) {
  return new Promise((resolveStart, rejectStart) => {
    // Every component may open as many files as the system allows this user (rtpengine holds
    // about five per call; a default soft limit of 1024 would end near 200 calls).
    // Timer slack is the shell's own (no privilege needed), kept across exec and by every thread.
    const slack = component.timerSlack ? `{ echo ${timerSlackNs} > /proc/self/timerslack_ns; } 2>/dev/null; ` : '';
    const child = spawn('sh', ['-c', `ulimit -n "$(ulimit -Hn)" 2>/dev/null; ${slack}exec "$0" "$@"`, ...component.command], {
      env: { NATS_URL: natsUrl, HTTP_HOST: '127.0.0.1', ...process.env, ...component.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group and working folder: Ctrl-C reaches only this script, which stops media
      // before rtpengine (reverse start order), and nothing a component drops lands in the checkout.
      detached: true,
      cwd: home,
    });
    running.push({ component, child });
    let ready = false;
    const becameReady = () => {
      if (ready) return;
      ready = true;
      resolveStart();
    };
    const onLine = (line) => {
      process.stdout.write(`${component.name.padEnd(9)}| ${line}\n`);
      if (component.ready instanceof RegExp && component.ready.test(line)) becameReady();
    };
    if (typeof component.ready === 'function') {
      const poll = async () => {
        while (!ready && child.exitCode === null && !stopping) {
          if (await component.ready()) return becameReady();
          await new Promise((resolveWait) => setTimeout(resolveWait, 200));
        }
      };
      void poll();
    }
    for (const stream of [child.stdout, child.stderr]) {
      let buffered = '';
      stream.on('data', (chunk) => {
        buffered += chunk;
        const lines = buffered.split('\n');
        buffered = lines.pop();
        lines.forEach(onLine);
      });
    }
    child.on('error', (error) => rejectStart(new Error(`${component.name}: cannot start ${component.command[0]}: ${error.message}`)));
    child.on('exit', (code, signal) => {
      if (!ready) rejectStart(new Error(`${component.name} exited before it was ready (${signal ?? code})`));
      else if (!stopping) {
        console.error(`${component.name} stopped unexpectedly (${signal ?? code}); stopping the platform`);
        void stopAll(1);
      }
    });
  });
}

async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  for (const { component, child } of running.reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.kill('SIGTERM');
    await new Promise((done) => {
      // Longer than a service's own shutdown bound (SHUTDOWN_TIMEOUT_MS, 20 s by default).
      const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
      child.once('exit', () => {
        clearTimeout(timer);
        done();
      });
    });
    console.log(`${component.name} stopped`);
  }
  process.exit(code);
}

process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

try {
  if (!drachtio) console.warn('drachtio-server not found (set DRACHTIO_BIN or put it on PATH): starting without SIP');
  for (const component of components) await start(component);
  console.log(
    `\nsipvm is running (state in ${home}). NATS: ${natsUrl} (your tools: nkey ${seedFile(natsAuth, 'admin')}).${drachtio ? ` SIP: 127.0.0.1:${sipPort} (udp, tcp).` : ' No SIP (no drachtio-server).'}`,
  );
  console.log(
    `Health and metrics: http://127.0.0.1:${port(9101)}/readyz (storage), :${port(9102)} (media), :${port(9103)} (voicemail)` +
      (drachtio ? `, :${port(9104)} (signaling)` : '') +
      `, :${port(9105)} (voicebox), :${port(9106)} (web). Ctrl-C stops it.`,
  );
  console.log(
    `Web inbox and HTTP API: http://127.0.0.1:${webPort}/ (issue a mailbox token with the operator key${webSecrets.WEB_OPERATOR_KEY_FILE ? ` in ${webSecrets.WEB_OPERATOR_KEY_FILE}` : ''}; see the README).\n`,
  );
} catch (error) {
  console.error(String(error.message ?? error));
  await stopAll(1);
}
