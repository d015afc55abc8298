/**
 * A real S3 on loopback that checks what s3rver does not: Ceph's RADOS Gateway (Debian 12's
 * `radosgw`, `ceph-mon`, `ceph-osd`). It verifies request signatures (a wrong secret is 403)
 * and honours conditional writes (`If-None-Match: *` on an existing key is 412).
 *
 * The smallest cluster that serves S3: one monitor, one OSD keeping objects in memory
 * (`memstore`), one radosgw; no authentication between them (`auth none`), replication 1, and
 * the gateway's pools created up front. Everything lives in a temporary folder; nothing
 * listens beyond 127.0.0.1. It starts in a few seconds and uses about 140 MB.
 */
import { spawn } from 'node:child_process';
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { isExecutable, startProcess, tail, type Started } from './process.js';
import { canConnect, freePort } from './ports.js';
import { tempDir } from './tmp.js';
import { s3ServiceEnv, type S3Server } from './s3.js';

/** The binaries used, all from the Debian packages in {@link CEPH_INSTALL}. */
const CEPH_BINARIES = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph', 'ceph-authtool', 'monmaptool'];

/** How to get them (what `scripts/setup.sh` does). */
export const CEPH_INSTALL = 'apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd (or scripts/setup.sh)';

/** The Ceph binaries this machine lacks (none: Ceph RGW can be started). */
export function cephMissing(): string[] {
  const dirs = (process.env.PATH ?? '/usr/bin').split(delimiter).filter(Boolean);
  return CEPH_BINARIES.filter((name) => !dirs.some((dir) => isExecutable(join(dir, name))));
}

/** Whether Ceph's binaries are installed, so {@link startCephRgw} can work. */
export function cephAvailable(): boolean {
  return cephMissing().length === 0;
}

/** The pools radosgw needs; created by hand so they are small (8 placement groups each). */
const RGW_POOLS = ['.rgw.root', 'default.rgw.control', 'default.rgw.meta', 'default.rgw.log', 'default.rgw.buckets.index', 'default.rgw.buckets.data'];
const REGION = 'us-east-1';

/**
 * Starts a one-node Ceph cluster with radosgw on loopback, a user with known keys and `bucket`.
 * `stop()` takes the gateway away (the cluster keeps the objects) and `start()` brings it back
 * on the same port; `close()` ends every process and removes all state.
 */
export async function startCephRgw(bucket = 'voicemail'): Promise<S3Server> {
  const missing = cephMissing();
  if (missing.length > 0) throw new Error(`Ceph is not installed (missing ${missing.join(', ')}): ${CEPH_INSTALL}`);

  const dir = await tempDir('ceph');
  const conf = join(dir.path, 'ceph.conf');
  const monPort = await freePort();
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials = {
    accessKeyId: `SIPVM${randomBytes(8).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(20).toString('base64url'),
    region: REGION,
  };
  const fsid = randomUUID();
  await writeFile(conf, cephConf({ dir: dir.path, fsid, monPort, rgwPort: port }));
  for (const sub of ['mon', 'osd', 'rgw', 'run']) await mkdir(join(dir.path, sub));
  // The daemons are told everything by ceph.conf; nothing from the caller's environment.
  const env: NodeJS.ProcessEnv = { ...process.env, CEPH_CONF: conf };
  delete env.CEPH_ARGS;
  const tool = (command: string, args: string[], input?: string) => runTool(command, ['-c', conf, ...args], env, input);

  let mon: Started | undefined;
  let osd: Started | undefined;
  let rgw: Started | undefined;
  const startRgw = async () => {
    rgw = await startProcess({
      name: 'radosgw',
      command: 'radosgw',
      args: ['-d', '-c', conf, '-n', 'client.rgw'],
      env,
      // HTTP is served only once the gateway has its zone and pools.
      ready: () => answersHttp(endpoint),
      timeoutMs: 60_000,
    });
  };
  const shutdown = async () => {
    await rgw?.stop();
    rgw = undefined;
    // Their state is thrown away: no clean shutdown needed (an OSD alone would wait for the monitor).
    await osd?.kill();
    await mon?.kill();
    osd = mon = undefined;
  };

  try {
    await tool('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, join(dir.path, 'monmap')]);
    await tool('ceph-authtool', ['--create-keyring', join(dir.path, 'keyring'), '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
    await tool('ceph-mon', ['--mkfs', '-i', 'a', '--monmap', join(dir.path, 'monmap'), '--keyring', join(dir.path, 'keyring')]);
    mon = await startProcess({
      name: 'ceph-mon',
      command: 'ceph-mon',
      args: ['-d', '-c', conf, '-i', 'a'],
      env,
      ready: () => canConnect(monPort),
      timeoutMs: 30_000,
    });
    const osdUuid = randomUUID();
    // One `ceph` run for every monitor command: it is a Python program, slow to start.
    const [created] = await Promise.all([
      tool(
        'ceph',
        ['--connect-timeout', '30'],
        [`osd new ${osdUuid} 0`, ...RGW_POOLS.flatMap((pool) => [`osd pool create ${pool} 8 8`, `osd pool application enable ${pool} rgw`])].join('\n') + '\n',
      ),
      tool('ceph-osd', ['--mkfs', '-i', '0', '--osd-uuid', osdUuid]),
    ]);
    // In this mode `ceph` exits 0 whatever happened; each failed command says `Error …`.
    if (/^Error/m.test(created.output)) throw new Error(`creating the OSD and pools failed:\n${tail(created.output)}`);
    osd = await startProcess({
      name: 'ceph-osd',
      command: 'ceph-osd',
      args: ['-d', '-c', conf, '-i', '0'],
      env,
      ready: (output) => output().includes('start_boot'),
      timeoutMs: 30_000,
    });
    await startRgw();
    await tool('radosgw-admin', [
      '-n',
      'client.admin',
      'user',
      'create',
      '--uid',
      'sipvm-test',
      '--display-name',
      'sipvm tests',
      '--access-key',
      credentials.accessKeyId,
      '--secret-key',
      credentials.secretAccessKey,
    ]);
    await createBucket(endpoint, bucket, credentials);
  } catch (error) {
    const logs = [mon, osd, rgw].filter((p): p is Started => p !== undefined).map((p) => `--- ${p.name}\n${tail(p.output(), 20)}`);
    await shutdown();
    await dir.remove();
    throw new Error(`Ceph RGW did not start: ${error instanceof Error ? error.message : String(error)}${logs.length ? `\n${logs.join('\n')}` : ''}`, {
      cause: error,
    });
  }

  let closed = false;
  return {
    endpoint,
    port,
    bucket,
    ...credentials,
    env: s3ServiceEnv({ endpoint, bucket, ...credentials }),
    start: async () => {
      if (closed) throw new Error('Ceph RGW was closed');
      if (!rgw) await startRgw();
    },
    stop: async () => {
      await rgw?.stop();
      rgw = undefined;
    },
    close: async () => {
      closed = true;
      await shutdown();
      await dir.remove();
    },
    pids: () => [
      { role: 'ceph-mon', pid: mon?.pid },
      { role: 'ceph-osd', pid: osd?.pid },
      { role: 'radosgw', pid: rgw?.pid },
    ],
  };
}

function cephConf(options: { dir: string; fsid: string; monPort: number; rgwPort: number }): string {
  const { dir } = options;
  return `[global]
fsid = ${options.fsid}
mon host = v2:127.0.0.1:${options.monPort}
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms mon cluster mode = crc
ms mon service mode = crc
keyring = ${dir}/keyring
run dir = ${dir}/run
admin socket =
pid file =
log file = ${dir}/$name.log
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
paxos propose interval = 0.1

[mon.a]
mon data = ${dir}/mon

[osd.0]
osd data = ${dir}/osd
osd objectstore = memstore
memstore device bytes = 1073741824

[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${options.rgwPort}
rgw data = ${dir}/rgw
rgw thread pool size = 32
`;
}

/** Runs one of Ceph's command-line tools to the end; rejects with its output when it fails. */
function runTool(command: string, args: string[], env: NodeJS.ProcessEnv, input?: string, timeoutMs = 60_000): Promise<{ output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${command}: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ output });
      else reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${tail(output)}`));
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/**
 * Creates a bucket with one signed request (AWS Signature Version 4): the harness does not
 * depend on the AWS SDK, and radosgw-admin cannot create buckets.
 */
async function createBucket(endpoint: string, bucket: string, keys: { accessKeyId: string; secretAccessKey: string; region: string }): Promise<void> {
  const url = new URL(`/${bucket}`, endpoint);
  const amzDate = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const payloadHash = sha256Hex('');
  const headers: Record<string, string> = { host: url.host, 'x-amz-content-sha256': payloadHash, 'x-amz-date': amzDate };
  const names = Object.keys(headers).sort();
  const signedHeaders = names.join(';');
  const canonicalHeaders = names.map((name) => `${name}:${headers[name]}\n`).join('');
  const canonical = ['PUT', url.pathname, '', canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${day}/${keys.region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonical)].join('\n');
  let key: Buffer = Buffer.from(`AWS4${keys.secretAccessKey}`);
  for (const part of [day, keys.region, 's3', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  const res = await fetch(url, {
    method: 'PUT',
    headers: {
      'x-amz-content-sha256': payloadHash,
      'x-amz-date': amzDate,
      authorization: `AWS4-HMAC-SHA256 Credential=${keys.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
    },
    signal: AbortSignal.timeout(30_000),
  });
  if (!res.ok) throw new Error(`creating bucket ${bucket}: HTTP ${res.status} ${await res.text()}`);
}

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

async function answersHttp(endpoint: string): Promise<boolean> {
  try {
    await (await fetch(endpoint, { signal: AbortSignal.timeout(2_000) })).arrayBuffer();
    return true;
  } catch {
    return false;
  }
}
