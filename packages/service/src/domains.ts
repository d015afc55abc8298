/**
 * The domains file (VM_DOMAINS_FILE): settings per domain over the platform's defaults. A carrier
 * hosting several customers gives each its own operator, quota, retention and policies:
 *
 *   { "example.org": { "operator": "sip:+4930123@example.org", "maxMessages": 100,
 *                      "retentionNewDays": 30, "retentionSavedDays": 14, "retentionWarnDays": 3,
 *                      "country": "DE", "transcription": "wait", "transcriptionWaitMs": 30000 } }
 *
 * One file for the platform: voicemail, voicebox and storage read it, each for its own settings,
 * and each refuses the whole file when any setting is bad. Keys are domain ids (P-App-Param `did`,
 * else `dom`), compared case-insensitively. It is read once at start; a bad one stops the service
 * naming the domain, the setting and what is wrong.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { MailboxIdSchema, SipUriSchema, TransferMethodSchema } from '@sipvm/contracts';
import { ConfigError, env } from './config.js';

/** What becomes of the message recorded before the caller pressed `0`. */
export const OPERATOR_RECORDING = ['keep', 'drop'] as const;

/** A silence length: 0 (silence does not end a recording) or at least half a second. */
export const maxSilenceMs = () => env.integer(0, 600_000).refine((ms) => ms === 0 || ms >= 500, 'must be 0 (off) or at least 500');

/** Days a message is kept: 0 for ever, at most a hundred years. */
export const retentionDays = () => env.integer(0, 36_500);

/** The share of a mailbox's most messages at which its owner is warned. */
export const quotaWarnPercent = () => env.integer(1, 100);

/** An ISO 3166-1 alpha-2 country code, upper case (`DE`, `GB`, `US`). */
export const countryCode = () => z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166 country code such as DE or US');

/** Transcription of a domain's messages: off, on, or on with the mail waiting for the text. */
export const TRANSCRIPTION_MODES = ['off', 'on', 'wait'] as const;
export type TranscriptionMode = (typeof TRANSCRIPTION_MODES)[number];

/** How long a mail may wait for its transcript. */
export const transcriptionWaitMs = () => env.integer(1_000, 600_000);

export const DomainSettingsSchema = z.strictObject({
  /** voicemail: where `0` transfers the caller, how, and what becomes of the message so far. */
  operator: SipUriSchema.optional(),
  operatorTransfer: TransferMethodSchema.optional(),
  operatorRecording: z.enum(OPERATOR_RECORDING).optional(),
  /** voicemail: silence this long ends a message. */
  maxSilenceMs: maxSilenceMs().optional(),
  /** voicemail, voicebox: the most messages a mailbox holds (0: no limit); P-App-Param `max` wins. */
  maxMessages: env.integer(0).optional(),
  /** voicemail: the owner is told when the mailbox passes this share of `maxMessages`. */
  quotaWarnPercent: quotaWarnPercent().optional(),
  /** voicemail: after `#` the caller may mark the message urgent. */
  offerUrgent: z.boolean().optional(),
  /** voicemail: ISO 3166 country of the domain's numbers (`DE`): callers' numbers are made E.164 and written its way. */
  country: countryCode().optional(),
  /** voicemail: `off`, `on`, or `wait` (the mail waits up to transcriptionWaitMs for the text); over VM_TRANSCRIPTION. */
  transcription: z.enum(TRANSCRIPTION_MODES).optional(),
  transcriptionWaitMs: transcriptionWaitMs().optional(),
  /** storage: unheard and saved messages are deleted this many days after they arrived or were heard (0: never). */
  retentionNewDays: retentionDays().optional(),
  retentionSavedDays: retentionDays().optional(),
  /** storage: the owner is told this many days before retention deletes messages (0: not told). */
  retentionWarnDays: retentionDays().optional(),
});
export type DomainSettings = z.infer<typeof DomainSettingsSchema>;

const DomainsFileSchema = z.record(MailboxIdSchema, DomainSettingsSchema);

export class Domains {
  private constructor(private readonly byDomain: ReadonlyMap<string, DomainSettings>) {}

  static readonly none = new Domains(new Map());

  static parse(json: unknown): Domains {
    const parsed = DomainsFileSchema.parse(json);
    return new Domains(new Map(Object.entries(parsed).map(([domain, settings]) => [domain.toLowerCase(), settings])));
  }

  /** Reads and checks the file; a problem is a ConfigError naming the file. */
  static async load(path: string): Promise<Domains> {
    const problem = (...what: string[]) => new ConfigError(what.map((line) => `VM_DOMAINS_FILE (${path}): ${line}`));
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw problem(`cannot be read: ${(error as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw problem(`is not JSON: ${(error as Error).message}`);
    }
    const result = DomainsFileSchema.safeParse(json);
    if (!result.success) {
      throw problem(
        ...result.error.issues.map((issue) => {
          const [domain, setting] = issue.path.map(String);
          if (domain === undefined) return `must be an object of domains and their settings (${issue.message})`;
          return `domain "${domain}"${setting !== undefined ? ` ${setting}` : ''}: ${issue.message}`;
        }),
      );
    }
    return Domains.parse(result.data);
  }

  /** The file named by VM_DOMAINS_FILE, or no domain settings at all. */
  static async of(path: string | undefined): Promise<Domains> {
    return path === undefined ? Domains.none : Domains.load(path);
  }

  get size(): number {
    return this.byDomain.size;
  }

  /** Whether any domain has transcription on (whatever the platform's default). */
  get anyTranscribes(): boolean {
    return [...this.byDomain.values()].some((settings) => settings.transcription !== undefined && settings.transcription !== 'off');
  }

  /** The settings of a domain; empty when it has none of its own. */
  of(did: string): DomainSettings {
    return this.byDomain.get(did.toLowerCase()) ?? {};
  }
}
