/**
 * Who is asking, and may they: the operator (X-Operator-Key), a mailbox's owner (a mailbox token
 * as Bearer) or an <audio> element (a signed link in `?link=`). A token opens its own mailbox
 * only, within its scopes; a link opens the one recording it names, for reading only.
 */
import type { IncomingMessage } from 'node:http';
import type { Mailbox } from '@sipvm/contracts';
import { HttpError } from './http/problem.js';
import { operatorKeyMatches, type AudioLink, type AudioResource, type MailboxToken, type Scope, type TokenSigner } from './tokens.js';
import type { Revocations } from './revocations.js';

export type Principal = { kind: 'operator' } | { kind: 'mailbox'; token: MailboxToken } | { kind: 'link'; link: AudioLink };

/** What a route needs: nothing, the operator, or a mailbox scope (the operator has every scope). */
export type Access =
  | { kind: 'public' }
  | { kind: 'operator' }
  /** Anyone with a valid mailbox token or the operator key (not a link). */
  | { kind: 'authenticated' }
  | {
      kind: 'mailbox';
      scope: Scope;
      /** The recording a link must name to open this route; links are refused elsewhere. */ audio?: (params: Record<string, string>) => AudioResource;
    };

export const OPERATOR_KEY_HEADER = 'X-Operator-Key';

const CHALLENGE = { 'www-authenticate': 'Bearer realm="sipvm"' };

export class Authenticator {
  constructor(
    private readonly operatorKey: string,
    private readonly signer: TokenSigner,
    private readonly revocations: Revocations,
  ) {}

  /** The principal the request proves, or a 401 naming what is missing or wrong (never echoing it). */
  authenticate(req: IncomingMessage, query: URLSearchParams, linkAllowed: boolean): Principal {
    const key = req.headers[OPERATOR_KEY_HEADER.toLowerCase()];
    if (typeof key === 'string') {
      if (operatorKeyMatches(key, this.operatorKey)) return { kind: 'operator' };
      throw new HttpError(401, 'the operator key is wrong', CHALLENGE);
    }
    const authorization = req.headers.authorization;
    if (authorization !== undefined) {
      const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1];
      const token = bearer === undefined ? undefined : this.signer.verifyToken(bearer);
      if (!token) throw new HttpError(401, 'the token is invalid or has expired', { 'www-authenticate': 'Bearer realm="sipvm", error="invalid_token"' });
      if (this.revocations.revoked(token))
        throw new HttpError(401, 'the token has been withdrawn', { 'www-authenticate': 'Bearer realm="sipvm", error="invalid_token"' });
      return { kind: 'mailbox', token };
    }
    const linkText = query.get('link');
    if (linkText !== null && linkAllowed) {
      const link = this.signer.verifyLink(linkText);
      if (!link) throw new HttpError(401, 'the audio link is invalid or has expired', CHALLENGE);
      return { kind: 'link', link };
    }
    throw new HttpError(401, 'a mailbox token (Authorization: Bearer) or the operator key (X-Operator-Key) is required', CHALLENGE);
  }
}

/** Throws 403 unless `principal` may use a route with `access` on `mailbox` (already normalised). */
export function authorize(principal: Principal, access: Access, mailbox: Mailbox | undefined, params: Record<string, string>): void {
  if (access.kind === 'public' || principal.kind === 'operator') return;
  if (access.kind === 'operator') throw new HttpError(403, 'only the operator may do this');
  if (access.kind === 'authenticated') return;
  if (!mailbox) throw new HttpError(403, 'this route belongs to no mailbox');
  if (principal.kind === 'mailbox') {
    const { token } = principal;
    if (!sameMailbox(token.mailbox, mailbox)) throw new HttpError(403, 'the token is for another mailbox');
    if (!token.scopes.includes(access.scope)) throw new HttpError(403, `the token lacks the scope ${access.scope}`);
    return;
  }
  const wanted = access.audio?.(params);
  if (!wanted || !sameMailbox(principal.link.mailbox, mailbox) || !sameResource(principal.link.resource, wanted)) {
    throw new HttpError(403, 'the audio link is for another recording');
  }
}

function sameMailbox(a: Mailbox, b: Mailbox): boolean {
  return a.did === b.did && a.uid === b.uid;
}

function sameResource(a: AudioResource, b: AudioResource): boolean {
  return a.kind === 'message' && b.kind === 'message' ? a.id === b.id : a.kind === 'greeting' && b.kind === 'greeting' && a.type === b.type;
}

/** The key requests are counted under for the per-token limit; undefined for the operator. */
export function rateKey(principal: Principal): string | undefined {
  if (principal.kind === 'mailbox') return principal.token.id;
  if (principal.kind === 'link') return principal.link.tokenId === 'operator' ? undefined : principal.link.tokenId;
  return undefined;
}
