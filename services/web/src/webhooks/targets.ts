/**
 * Where webhooks go: targets from WEBHOOK_URL (one global target named `default`) and from
 * WEBHOOKS_FILE (global or per domain). Read once at start-up; a broken file stops the service
 * (exit 78) naming what is wrong, never its secrets.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { describeIssues, MailboxIdSchema, WebhookTargetNameSchema } from '@sipvm/contracts';
import { readSecret } from '../secrets.js';

export interface WebhookTarget {
  name: string;
  url: string;
  secret: string;
  /** Lower-case mailbox domains (did) this target hears about; undefined: every domain. */
  domains: readonly string[] | undefined;
}

const WEBHOOK_SECRET_MIN = 16;

const TargetFileSchema = z.strictObject({
  targets: z.array(
    z
      .strictObject({
        name: WebhookTargetNameSchema,
        url: z.url({ protocol: /^https?$/, error: 'must be an http or https URL' }),
        secret: z.string().min(WEBHOOK_SECRET_MIN, `must be at least ${WEBHOOK_SECRET_MIN} characters`).optional(),
        secretFile: z.string().min(1).optional(),
        /** Mailbox domains (did); absent means every domain. */
        domains: z.array(MailboxIdSchema).min(1).optional(),
      })
      .refine((t) => (t.secret === undefined) !== (t.secretFile === undefined), 'needs exactly one of secret and secretFile'),
  ),
});

export class WebhookTargets {
  readonly #targets: readonly WebhookTarget[];

  constructor(targets: readonly WebhookTarget[]) {
    this.#targets = targets;
  }

  get size(): number {
    return this.#targets.length;
  }

  /** The targets that hear about a new message in a mailbox of domain `did`. */
  forDomain(did: string): WebhookTarget[] {
    const domain = did.toLowerCase();
    return this.#targets.filter((t) => t.domains === undefined || t.domains.includes(domain));
  }

  byName(name: string): WebhookTarget | undefined {
    return this.#targets.find((t) => t.name === name);
  }

  /** What may be logged: names, URLs without credentials or query, domains. */
  describe(): { name: string; url: string; domains: readonly string[] | 'all' }[] {
    return this.#targets.map((t) => {
      const url = new URL(t.url);
      return { name: t.name, url: `${url.protocol}//${url.host}${url.pathname}`, domains: t.domains ?? 'all' };
    });
  }
}

export interface TargetSources {
  WEBHOOK_URL?: string | undefined;
  WEBHOOK_SECRET?: string | undefined;
  WEBHOOK_SECRET_FILE?: string | undefined;
  WEBHOOKS_FILE?: string | undefined;
}

/** The configured targets, or the problems with them (worded like configuration errors). */
export async function loadWebhookTargets(config: TargetSources): Promise<{ targets: WebhookTargets; problems: string[] }> {
  const problems: string[] = [];
  const targets: WebhookTarget[] = [];
  const secret = await readSecret(
    { variable: 'WEBHOOK_SECRET', value: config.WEBHOOK_SECRET, fileVariable: 'WEBHOOK_SECRET_FILE', file: config.WEBHOOK_SECRET_FILE },
    { required: config.WEBHOOK_URL !== undefined, minLength: WEBHOOK_SECRET_MIN },
  );
  if (secret && 'problem' in secret) problems.push(secret.problem);
  if (config.WEBHOOK_URL !== undefined && secret && 'lines' in secret) {
    targets.push({ name: 'default', url: config.WEBHOOK_URL, secret: secret.lines[0] ?? '', domains: undefined });
  } else if (config.WEBHOOK_URL === undefined && secret) {
    problems.push('WEBHOOK_SECRET: is set but WEBHOOK_URL is not');
  }
  if (config.WEBHOOKS_FILE !== undefined) {
    const where = `WEBHOOKS_FILE ("${config.WEBHOOKS_FILE}")`;
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(config.WEBHOOKS_FILE, 'utf8'));
    } catch (error) {
      problems.push(`${where}: cannot be read as JSON (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      return { targets: new WebhookTargets(targets), problems };
    }
    const parsed = TargetFileSchema.safeParse(raw);
    if (!parsed.success) {
      // The issues name fields and rules, never the values.
      problems.push(`${where}: ${describeIssues(parsed.error)}`);
      return { targets: new WebhookTargets(targets), problems };
    }
    for (const entry of parsed.data.targets) {
      let targetSecret = entry.secret;
      if (entry.secretFile !== undefined) {
        const fromFile = await readSecret(
          { variable: `target ${entry.name} secret`, value: undefined, fileVariable: `${where} target ${entry.name} secretFile`, file: entry.secretFile },
          { required: true, minLength: WEBHOOK_SECRET_MIN },
        );
        if (fromFile && 'problem' in fromFile) problems.push(fromFile.problem);
        else targetSecret = fromFile?.lines[0];
      }
      if (targets.some((t) => t.name === entry.name)) problems.push(`${where}: target name "${entry.name}" is used twice`);
      if (targetSecret !== undefined) {
        targets.push({ name: entry.name, url: entry.url, secret: targetSecret, domains: entry.domains?.map((d) => d.toLowerCase()) });
      }
    }
  }
  return { targets: new WebhookTargets(targets), problems };
}
