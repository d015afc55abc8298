/**
 * P-App-Param: the callee's profile passed by the proxy (docs/behaviour.md §1), with SEMS's semantics.
 *
 * Syntax: `key=value` pairs separated by `;`. Keys are case-insensitive; spaces around keys, `=`
 * and unquoted values are ignored; a value may be quoted with `'` or `"` and the quotes protect
 * `;` (inside quotes a backslash escapes the next character, as in SEMS). Empty segments (the
 * trailing `;` of the SEMS route fragments) are skipped, and an empty value counts as not given,
 * so `mod=;eml='';` from a proxy whose AVPs are unset falls back to the defaults. When a key
 * appears twice the first wins; when both the short and the long name appear the short wins.
 *
 * Parsing never throws anything but an AppParamError, whose message is fit for a SIP reason.
 */
import { z } from 'zod';
import {
  AppParamsSchema,
  DEFAULT_GREETING_TYPE,
  describeIssues,
  PinSchema,
  VOICEMAIL_MODES,
  type AppParams,
  type Application,
  type VoicemailMode,
} from '@sipvm/contracts';

export class AppParamError extends Error {
  override readonly name = 'AppParamError';
}

/** Longest P-App-Param header accepted; SEMS route fragments produce a few hundred bytes. */
export const MAX_APP_PARAM_LENGTH = 4096;
const KEY_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Splits the header into lower-cased keys and raw values (first occurrence of a key wins). */
export function parseAppParamHeader(header: string): Map<string, string> {
  if (header.length > MAX_APP_PARAM_LENGTH) throw new AppParamError(`P-App-Param longer than ${MAX_APP_PARAM_LENGTH} characters`);
  const pairs = new Map<string, string>();
  let i = 0;
  const n = header.length;
  const skipSpaces = () => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  while (i < n) {
    skipSpaces();
    if (header[i] === ';') {
      i++;
      continue;
    }
    if (i >= n) break;
    const keyStart = i;
    while (i < n && header[i] !== '=' && header[i] !== ';') i++;
    const key = header.slice(keyStart, i).trim();
    if (i >= n || header[i] === ';') throw new AppParamError(`P-App-Param "${printable(key)}" has no value (key=value expected)`);
    if (!KEY_PATTERN.test(key)) throw new AppParamError(`P-App-Param key "${printable(key)}" is not a valid name`);
    i++; // '='
    skipSpaces();
    let value: string;
    const quote = header[i];
    if (quote === '"' || quote === "'") {
      i++;
      let buf = '';
      let closed = false;
      while (i < n) {
        const c = header[i] as string;
        if (c === '\\' && i + 1 < n) {
          buf += header[i + 1];
          i += 2;
          continue;
        }
        if (c === quote) {
          closed = true;
          i++;
          break;
        }
        buf += c;
        i++;
      }
      if (!closed) throw new AppParamError(`P-App-Param ${key}: unterminated ${quote === '"' ? 'double' : 'single'} quote`);
      skipSpaces();
      if (i < n && header[i] !== ';') throw new AppParamError(`P-App-Param ${key}: text after the closing quote`);
      value = buf;
    } else {
      const valueStart = i;
      while (i < n && header[i] !== ';') i++;
      value = header.slice(valueStart, i).trim();
    }
    const lower = key.toLowerCase();
    if (!pairs.has(lower)) pairs.set(lower, value);
  }
  return pairs;
}

/** A key as the docs/behaviour.md §1 table names it: short name, long name. */
const KEYS = {
  user: ['usr', 'user'],
  domain: ['dom', 'domain'],
  uid: ['uid', 'userid'],
  did: ['did', 'domainid'],
  sender: ['snd', 'sender'],
  email: ['eml', 'email-address'],
  mode: ['mod', 'mode'],
  language: ['lng', 'language'],
  greetingType: ['typ', 'type'],
  pin: ['pin', 'pin'],
  operator: ['opr', 'operator'],
  maxSilenceS: ['sil', 'max-silence'],
  maxMessages: ['max', 'max-messages'],
} as const satisfies Record<string, readonly [string, string]>;

const KNOWN_KEYS: ReadonlySet<string> = new Set(Object.values(KEYS).flat());

/** The short name wins over the long one; empty values count as not given. */
function pick(pairs: ReadonlyMap<string, string>, [short, long]: readonly [string, string]): string | undefined {
  const value = pairs.get(short) || pairs.get(long);
  return value === '' ? undefined : value;
}

/** A whole number (seconds, messages) as a number (schema-checked later); anything else is kept, for the schema to refuse by name. */
function seconds(value: string | undefined): number | string | undefined {
  return value !== undefined && /^\d{1,6}$/.test(value) ? Number(value) : value;
}

/** SEMS voicemail mode numbers (AnswerMachine.h: MODE_VOICEMAIL 0, MODE_BOX 1, MODE_BOTH 2, MODE_ANN 3) and names. */
const SEMS_MODE_NUMBERS: Record<string, VoicemailMode> = { '0': 'voicemail', '1': 'box', '2': 'both', '3': 'ann' };

export function parseMode(value: string): VoicemailMode {
  const v = value.trim().toLowerCase();
  const byNumber = SEMS_MODE_NUMBERS[v];
  if (byNumber) return byNumber;
  if ((VOICEMAIL_MODES as readonly string[]).includes(v)) return v as VoicemailMode;
  throw new AppParamError(`P-App-Param mod "${printable(value)}" is not one of ${VOICEMAIL_MODES.join(', ')} or 0-3`);
}

export interface RequestDefaults {
  /** User and host of the Request-URI: the defaults of usr and dom. */
  ruriUser: string | undefined;
  ruriHost: string | undefined;
  /** The caller's From URI (not the whole header): the default of snd. */
  fromUri: string;
  /**
   * P-Email-Address and P-Language, the headers SER appends in the seed HOWTO (`tw_append
   * voicemail_headers`): the defaults of eml and lng. P-App-Param wins when both are given.
   */
  emailHeader?: string | undefined;
  languageHeader?: string | undefined;
}

export interface AppParamPolicy {
  defaultMode: VoicemailMode;
  defaultLanguage: string;
  /** Extra keys (lower case) that become mail template variables. */
  extraKeys: readonly string[];
}

/**
 * The profile as signaling first holds it: the PIN still in clear, until it is sealed (the events
 * carry AppParams, with the PIN's verifier only). Domains are in lower case already (DomainIdSchema).
 */
export type ResolvedParams = Omit<AppParams, 'pin'> & { pin?: string };
const ResolvedParamsSchema = AppParamsSchema.extend({ pin: PinSchema.optional() });

/** Modes of the voicemail application that mail the message, and so need eml. */
const MAILING_MODES: ReadonlySet<VoicemailMode> = new Set(['voicemail', 'both']);

/**
 * The validated profile for a call: header values, then the defaults of the docs/behaviour.md §1 table.
 * Throws AppParamError naming the key and what is wrong with it.
 */
export function resolveAppParams(header: string | undefined, app: Application, request: RequestDefaults, policy: AppParamPolicy): ResolvedParams {
  const pairs = header === undefined ? new Map<string, string>() : parseAppParamHeader(header);
  const user = pick(pairs, KEYS.user) ?? request.ruriUser;
  const domain = pick(pairs, KEYS.domain) ?? request.ruriHost;
  if (user === undefined) throw new AppParamError('no mailbox user (P-App-Param usr, or a user in the Request-URI)');
  if (domain === undefined) throw new AppParamError('no mailbox domain (P-App-Param dom)');
  const modeValue = pick(pairs, KEYS.mode);
  const email = withHeaderDefault(pick(pairs, KEYS.email), request.emailHeader, 'P-Email-Address');
  const language = withHeaderDefault(pick(pairs, KEYS.language), request.languageHeader, 'P-Language');
  const extra: Record<string, string> = {};
  for (const key of policy.extraKeys) {
    if (KNOWN_KEYS.has(key)) continue;
    const value = pairs.get(key);
    if (value !== undefined && value !== '') extra[key] = value;
  }
  const candidate = {
    user,
    domain,
    uid: pick(pairs, KEYS.uid) ?? user,
    did: pick(pairs, KEYS.did) ?? domain,
    sender: pick(pairs, KEYS.sender) ?? request.fromUri,
    email: email.value,
    mode: modeValue === undefined ? policy.defaultMode : parseMode(modeValue),
    language: language.value ?? policy.defaultLanguage,
    greetingType: pick(pairs, KEYS.greetingType) ?? DEFAULT_GREETING_TYPE,
    pin: pick(pairs, KEYS.pin),
    operator: pick(pairs, KEYS.operator),
    maxSilenceS: seconds(pick(pairs, KEYS.maxSilenceS)),
    maxMessages: seconds(pick(pairs, KEYS.maxMessages)),
    extra,
  };
  // Keys not given are left out rather than set to undefined (events carry no empty fields).
  const given = Object.fromEntries(Object.entries(candidate).filter(([, v]) => v !== undefined));
  const parsed = ResolvedParamsSchema.safeParse(given);
  if (!parsed.success) throw new AppParamError(describeWithShortNames(parsed.error, { email: email.source, language: language.source }));
  const params = parsed.data;
  if (app === 'voicemail' && params.mode !== undefined && MAILING_MODES.has(params.mode) && params.email === undefined) {
    throw new AppParamError(`P-App-Param eml (or P-Email-Address) is required in mode ${params.mode}`);
  }
  return params;
}

/** A value from P-App-Param, else from a header of its own; the name of where it came from, for errors. */
function withHeaderDefault(
  fromParam: string | undefined,
  header: string | undefined,
  headerName: string,
): { value: string | undefined; source: string | undefined } {
  if (fromParam !== undefined) return { value: fromParam, source: undefined };
  const value = header?.trim();
  return value ? { value, source: headerName } : { value: undefined, source: undefined };
}

const SHORT_NAME: Record<string, string> = Object.fromEntries(Object.entries(KEYS).map(([field, [short]]) => [field, short]));

/**
 * The first problem only, named as the proxy wrote it — the P-App-Param short key, or the header
 * the value came from: it goes into a SIP reason phrase.
 */
function describeWithShortNames(error: z.ZodError, headerSources: Record<string, string | undefined>): string {
  const [first] = error.issues;
  const field = first?.path[0];
  const header = typeof field === 'string' ? headerSources[field] : undefined;
  if (first && header !== undefined) return `${header}: ${first.message}`;
  const named = error.issues.slice(0, 1).map((issue) => ({ ...issue, path: issue.path.map((p) => (typeof p === 'string' ? (SHORT_NAME[p] ?? p) : p)) }));
  return `P-App-Param ${describeIssues(new z.ZodError(named))}`;
}

/** Shows a fragment of hostile input safely in a SIP reason or a log line. */
export function printable(text: string, max = 40): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is replaced
  const clean = text.replace(/[\x00-\x1f\x7f]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
