/**
 * The domain's configuration (VM_DOMAINS_FILE): settings of the leave-a-message call per domain,
 * over the platform's defaults from the environment. A carrier hosting several customers gives each
 * its own operator and policies:
 *
 *   { "example.org": { "operator": "sip:+4930123@example.org", "operatorTransfer": "bridge",
 *                      "operatorRecording": "drop", "maxSilenceMs": 5000,
 *                      "transcription": "wait", "transcriptionWaitMs": 30000 } }
 *
 * Keys are domain ids (P-App-Param `did`, else `dom`), compared case-insensitively. The file is read
 * once at start; a bad one stops the service naming the domain, the setting and what is wrong.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { MailboxIdSchema, SipUriSchema, TransferMethodSchema } from '@sipvm/contracts';
import { ConfigError } from '@sipvm/service';
import { countryCode, maxSilenceMs, OPERATOR_RECORDING } from './config.js';
import { TRANSCRIPTION_MODES, transcriptionWaitMs } from '../transcription/config.js';

export const DomainSettingsSchema = z.strictObject({
  operator: SipUriSchema.optional(),
  operatorTransfer: TransferMethodSchema.optional(),
  operatorRecording: z.enum(OPERATOR_RECORDING).optional(),
  maxSilenceMs: maxSilenceMs().optional(),
  /** ISO 3166 country of the domain's numbers (`DE`): callers' numbers are made E.164 and written its way. */
  country: countryCode().optional(),
  /** `off`, `on`, or `wait` (the mail waits up to transcriptionWaitMs for the text): over VM_TRANSCRIPTION. */
  transcription: z.enum(TRANSCRIPTION_MODES).optional(),
  transcriptionWaitMs: transcriptionWaitMs().optional(),
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
      throw problem(...result.error.issues.map((issue) => {
        const [domain, setting] = issue.path.map(String);
        if (domain === undefined) return `must be an object of domains and their settings (${issue.message})`;
        return `domain "${domain}"${setting !== undefined ? ` ${setting}` : ''}: ${issue.message}`;
      }));
    }
    return Domains.parse(result.data);
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
