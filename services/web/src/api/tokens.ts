/**
 * The operator's routes that issue mailbox tokens and withdraw a mailbox's tokens, and the route
 * that tells a token's holder what it opens.
 */
import type { WebConfig } from '../config.js';
import type { Revocations } from '../revocations.js';
import { HttpError, sendJson } from '../http/problem.js';
import { readJson } from '../http/body.js';
import type { Route } from '../http/server.js';
import { SCOPES, type TokenSigner } from '../tokens.js';
import { TokenRequestSchema } from './views.js';
import { MAILBOX_PATH } from './deps.js';

export function tokenRoutes(signer: TokenSigner, revocations: Revocations, config: WebConfig): Route[] {
  return [
    {
      method: 'POST',
      path: '/api/v1/tokens',
      access: { kind: 'operator' },
      async handle(context) {
        const body = await readJson(context.req, TokenRequestSchema);
        const ttlMs = body.ttlSeconds === undefined ? config.WEB_TOKEN_TTL : body.ttlSeconds * 1000;
        if (ttlMs > config.WEB_TOKEN_MAX_TTL) throw new HttpError(400, `ttlSeconds: must be at most ${config.WEB_TOKEN_MAX_TTL / 1000}`);
        // Issued after any withdrawal of the mailbox's tokens, even one made in this same second.
        const { token, claims } = signer.issueToken(body.mailbox, body.scopes ?? SCOPES, ttlMs, revocations.issueSecond(body.mailbox) * 1000);
        // The token id, never the token: logs are read by more people than mailbox owners.
        context.log.info(
          { tokenId: claims.id, tokenMailbox: `${claims.mailbox.uid}@${claims.mailbox.did}`, scopes: claims.scopes, expiresAt: claims.expiresAt },
          'mailbox token issued',
        );
        const inboxUrl = `${config.WEB_PUBLIC_URL?.replace(/\/+$/, '') ?? ''}/#token=${token}`;
        sendJson(context.res, 201, {
          token,
          mailbox: claims.mailbox,
          scopes: claims.scopes,
          expiresAt: new Date(claims.expiresAt * 1000).toISOString(),
          inboxUrl,
        });
      },
    },
    {
      method: 'DELETE',
      path: `${MAILBOX_PATH}/tokens`,
      access: { kind: 'operator' },
      async handle(context) {
        const mailbox = context.mailbox!;
        const notBefore = await revocations.revoke(mailbox);
        context.log.info({ notBefore }, 'mailbox tokens withdrawn');
        sendJson(context.res, 200, { mailbox, notBefore: new Date(notBefore * 1000).toISOString() });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/me',
      access: { kind: 'authenticated' },
      async handle(context) {
        const principal = context.principal;
        if (principal?.kind === 'mailbox') {
          const { token } = principal;
          sendJson(context.res, 200, {
            kind: 'mailbox',
            mailbox: token.mailbox,
            scopes: token.scopes,
            expiresAt: new Date(token.expiresAt * 1000).toISOString(),
          });
        } else {
          sendJson(context.res, 200, { kind: 'operator' });
        }
      },
    },
  ];
}
