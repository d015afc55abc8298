/**
 * Mailbox tokens and signed audio links: HMAC-SHA256-signed, self-contained, checked without any
 * lookup (so every instance checks every token).
 *
 * - A mailbox token (`svt1.<claims>.<mac>`) is what the operator issues to a mailbox's owner: the
 *   mailbox, its scopes and an expiry. It travels as `Authorization: Bearer`.
 * - An audio link (`sva1.<claims>.<mac>`) names one recording (a message or a greeting) and
 *   expires within minutes; it travels in the URL (`?link=`) so an <audio> element can play it
 *   without headers, and it opens nothing else.
 *
 * Each kind is signed with its own key derived from the secret, so one can never pass for the
 * other. Secrets rotate: the first one signs, all of them verify.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { GreetingTypeSchema, MailboxSchema, MessageIdSchema, normaliseMailbox, type Mailbox } from '@sipvm/contracts';

export const SCOPES = ['messages:read', 'messages:write', 'greetings:read', 'greetings:write'] as const;
export const ScopeSchema = z.enum(SCOPES);
export type Scope = z.infer<typeof ScopeSchema>;

export interface MailboxToken {
  mailbox: Mailbox;
  scopes: readonly Scope[];
  /** Seconds since the epoch. */
  issuedAt: number;
  expiresAt: number;
  /** Random id: the rate-limit key, and what logs may name instead of the token. */
  id: string;
}

/** A recording an audio link opens. */
export type AudioResource = { kind: 'message'; id: string } | { kind: 'greeting'; type: string };

export interface AudioLink {
  mailbox: Mailbox;
  resource: AudioResource;
  expiresAt: number;
  /** The id of the token it was made for (or `operator`): requests through it count against that token. */
  tokenId: string;
}

const TOKEN_PREFIX = 'svt1';
const LINK_PREFIX = 'sva1';

const TokenClaimsSchema = z.strictObject({
  m: MailboxSchema,
  s: z.array(ScopeSchema).min(1),
  iat: z.number().int(),
  exp: z.number().int(),
  jti: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
});

const LinkClaimsSchema = z.strictObject({
  m: MailboxSchema,
  r: z.union([z.strictObject({ kind: z.literal('message'), id: MessageIdSchema }), z.strictObject({ kind: z.literal('greeting'), type: GreetingTypeSchema })]),
  exp: z.number().int(),
  tid: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
});

export class TokenSigner {
  readonly #tokenKeys: Buffer[];
  readonly #linkKeys: Buffer[];

  /** `secrets`: the first signs, all verify. */
  constructor(secrets: readonly string[]) {
    if (secrets.length === 0) throw new Error('at least one token secret is needed');
    const derive = (label: string) => secrets.map((secret) => createHmac('sha256', secret).update(label).digest());
    this.#tokenKeys = derive('sipvm-web mailbox token v1');
    this.#linkKeys = derive('sipvm-web audio link v1');
  }

  issueToken(mailbox: Mailbox, scopes: readonly Scope[], ttlMs: number, now = Date.now()): { token: string; claims: MailboxToken } {
    const issuedAt = Math.floor(now / 1000);
    const claims: MailboxToken = {
      mailbox: normaliseMailbox(mailbox),
      scopes: [...new Set(scopes)],
      issuedAt,
      expiresAt: issuedAt + Math.max(1, Math.floor(ttlMs / 1000)),
      id: randomBytes(12).toString('base64url'),
    };
    const body = { m: claims.mailbox, s: claims.scopes, iat: claims.issuedAt, exp: claims.expiresAt, jti: claims.id };
    return { token: sign(TOKEN_PREFIX, body, this.#tokenKeys[0]!), claims };
  }

  /** The token's claims, or undefined when it is not one of ours, was altered, or has expired. */
  verifyToken(token: string, now = Date.now()): MailboxToken | undefined {
    const claims = open(TOKEN_PREFIX, token, this.#tokenKeys, TokenClaimsSchema);
    if (!claims || claims.exp * 1000 <= now) return undefined;
    return { mailbox: normaliseMailbox(claims.m), scopes: claims.s, issuedAt: claims.iat, expiresAt: claims.exp, id: claims.jti };
  }

  /** A link to one recording, valid for `ttlMs` but never beyond `notAfter` (the token's own expiry). */
  issueLink(
    mailbox: Mailbox,
    resource: AudioResource,
    tokenId: string,
    ttlMs: number,
    notAfter = Number.POSITIVE_INFINITY,
    now = Date.now(),
  ): { link: string; expiresAt: number } {
    const expiresAt = Math.min(Math.floor((now + ttlMs) / 1000), notAfter);
    const body = { m: normaliseMailbox(mailbox), r: resource, exp: expiresAt, tid: tokenId };
    return { link: sign(LINK_PREFIX, body, this.#linkKeys[0]!), expiresAt };
  }

  verifyLink(link: string, now = Date.now()): AudioLink | undefined {
    const claims = open(LINK_PREFIX, link, this.#linkKeys, LinkClaimsSchema);
    if (!claims || claims.exp * 1000 <= now) return undefined;
    return { mailbox: normaliseMailbox(claims.m), resource: claims.r, expiresAt: claims.exp, tokenId: claims.tid };
  }
}

function mac(key: Buffer, signed: string): Buffer {
  return createHmac('sha256', key).update(signed).digest();
}

function sign(prefix: string, claims: unknown, key: Buffer): string {
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${prefix}.${payload}.${mac(key, `${prefix}.${payload}`).toString('base64url')}`;
}

function open<S extends z.ZodType>(prefix: string, text: string, keys: readonly Buffer[], schema: S): z.output<S> | undefined {
  if (text.length > 4096) return undefined;
  const parts = text.split('.');
  if (parts.length !== 3 || parts[0] !== prefix) return undefined;
  const payload = parts[1] ?? '';
  const given = Buffer.from(parts[2] ?? '', 'base64url');
  if (given.length !== 32) return undefined;
  // Every key is tried, whichever matches, so the time taken does not tell which one did.
  let valid = false;
  for (const key of keys) valid = timingSafeEqual(mac(key, `${prefix}.${payload}`), given) || valid;
  if (!valid) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = schema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

/** Compares a presented operator key with the configured one in constant time (lengths included). */
export function operatorKeyMatches(presented: string, configured: string): boolean {
  const digest = (value: string) => createHmac('sha256', 'sipvm-web operator key').update(value).digest();
  return timingSafeEqual(digest(presented), digest(configured));
}
