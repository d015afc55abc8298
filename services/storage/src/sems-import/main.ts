/**
 * `npm run import:sems -- --from <SEMS storage_dir> [--dry-run] [--concurrency <n>]`: brings a SEMS
 * msg_storage folder's messages and greetings into the running platform's storage
 * (docs/migrating-from-sems.md). It needs NATS and the storage service; it talks to them with the
 * admin key (NATS_NKEY_FILE; `npm start`'s `.local/nats/auth/admin.nk` when unset and present).
 *
 * Exit status: 0 all done (skipped files are reported, not failures), 1 some files could not be
 * brought over now (run again), 64 bad arguments, 66 no such folder, 69 NATS or storage away,
 * 78 bad configuration.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { request, seedFile, StorageApi, toServiceError } from '@sipvm/contracts';
import { commonConfigShape, ConfigError, env, loadConfig, natsSecurity, packageRoot } from '@sipvm/service';
import { parseImportArguments, USAGE } from './arguments.js';
import { importSemsFolder } from './importer.js';
import { progressBar } from './progress.js';
import { formatReport } from './report.js';
import { readSemsFolder } from './sems-folder.js';

const EXIT = { failed: 1, usage: 64, noInput: 66, unavailable: 69, config: 78 } as const;

const importerConfig = {
  NATS_URL: commonConfigShape.NATS_URL,
  NATS_NKEY_FILE: commonConfigShape.NATS_NKEY_FILE,
  NATS_USER: commonConfigShape.NATS_USER,
  NATS_PASSWORD_FILE: commonConfigShape.NATS_PASSWORD_FILE,
  NATS_TLS_CA_FILE: commonConfigShape.NATS_TLS_CA_FILE,
  NATS_TLS_CERT_FILE: commonConfigShape.NATS_TLS_CERT_FILE,
  NATS_TLS_KEY_FILE: commonConfigShape.NATS_TLS_KEY_FILE,
  /** ffmpeg converts recordings not in the platform's format (A-law, µ-law, MP3). */
  FFMPEG_BIN: env.string().default('ffmpeg'),
};

function fail(status: number, message: string): never {
  process.stderr.write(`import:sems: ${message}\n`);
  process.exit(status);
}

const args = parseImportArguments(process.argv.slice(2));
if (!args.ok) fail(EXIT.usage, `${args.problem}\n${USAGE}`);
if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (
  !(await stat(args.from).then(
    (s) => s.isDirectory(),
    () => false,
  ))
)
  fail(EXIT.noInput, `--from ${args.from}: no such folder`);

let config;
let security;
try {
  config = loadConfig(importerConfig, withLocalAdminKey(process.env));
  security = natsSecurity(config, 'admin');
} catch (error) {
  if (error instanceof ConfigError) fail(EXIT.config, error.message);
  throw error;
}

let nc;
try {
  nc = await connect({ ...security, servers: config.NATS_URL, name: 'sems-import', timeout: 5_000, noAsyncTraces: true });
} catch (error) {
  fail(EXIT.unavailable, `cannot reach NATS at ${config.NATS_URL.join(',')}: ${toServiceError(error).message}`);
}
try {
  await request(nc, StorageApi.countMailbox, { mailbox: { did: 'sems-import.invalid', uid: 'probe' } });
} catch (error) {
  await nc.close();
  fail(EXIT.unavailable, `the storage service does not answer: ${toServiceError(error).message}`);
}

const folder = await readSemsFolder(args.from);
const tmpDir = await mkdtemp(join(tmpdir(), 'sipvm-sems-import-'));
const progress = progressBar();
try {
  const report = await importSemsFolder({
    nc,
    folder,
    dryRun: args.dryRun,
    concurrency: args.concurrency,
    audio: { ffmpeg: config.FFMPEG_BIN, tmpDir },
    onProgress: (done, total) => progress.update(done, total),
  });
  progress.end();
  process.stdout.write(formatReport(report, args.from));
  process.exitCode = report.failed.length > 0 ? EXIT.failed : 0;
} finally {
  await rm(tmpDir, { recursive: true, force: true });
  await nc.drain();
}

/** `npm start` keeps the admin key in .local/ of the checkout: use it unless credentials are given. */
function withLocalAdminKey(environment: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (environment.NATS_NKEY_FILE || environment.NATS_USER) return environment;
  const local = seedFile(join(packageRoot(import.meta.url), '..', '..', '.local', 'nats', 'auth'), 'admin');
  return existsSync(local) ? { ...environment, NATS_NKEY_FILE: local } : environment;
}
