/** The importer's command line. */

export const USAGE = `usage: npm run import:sems -- --from <SEMS storage_dir> [--dry-run] [--concurrency <n>]

Brings the messages and greetings of a SEMS msg_storage folder (msg_storage.conf's storage_dir,
/var/spool/voicebox by default) into the platform's storage, through the storage service.
  --from <dir>         the SEMS folder: <domain>/<user>/<time>+<sender>.wav, <domain>-prompts/<user>/<type>.wav
  --dry-run            check everything and report what would be imported; write nothing
  --concurrency <n>    mailboxes imported at once (1-32, default 4)
Environment: NATS_URL, NATS_NKEY_FILE (the admin key), NATS_USER/NATS_PASSWORD_FILE, NATS_TLS_*, FFMPEG_BIN.
`;

export type ImportArguments =
  { ok: true; help: true } | { ok: true; help: false; from: string; dryRun: boolean; concurrency: number } | { ok: false; problem: string };

export function parseImportArguments(argv: readonly string[]): ImportArguments {
  let from: string | undefined;
  let dryRun = false;
  let concurrency = 4;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = (argv[i] ?? '').split(/=(.*)/s, 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--help':
      case '-h':
        return { ok: true, help: true };
      case '--dry-run':
        dryRun = true;
        break;
      case '--from':
        from = value();
        if (!from) return { ok: false, problem: '--from needs a folder' };
        break;
      case '--concurrency': {
        const text = value() ?? '';
        concurrency = Number(text);
        if (!/^\d+$/.test(text) || concurrency < 1 || concurrency > 32) return { ok: false, problem: `--concurrency "${text}": must be a number from 1 to 32` };
        break;
      }
      default:
        return { ok: false, problem: `unknown argument "${argv[i]}"` };
    }
  }
  if (from === undefined) return { ok: false, problem: '--from <SEMS storage_dir> is required' };
  return { ok: true, help: false, from, dryRun, concurrency };
}
