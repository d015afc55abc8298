/** What the API's routes need, and the audio links they hand out. */
import type { NatsConnection } from '@nats-io/nats-core';
import type { Mailbox, StagingBucket } from '@sipvm/contracts';
import type { Domains } from '@sipvm/service';
import type { Principal } from '../auth.js';
import type { WebConfig } from '../config.js';
import type { RequestContext } from '../http/server.js';
import type { TokenSigner } from '../tokens.js';
import type { LinkMaker } from './views.js';

/** Where a mailbox's resources are; the server gives routes under it their mailbox. */
export const MAILBOX_PATH = '/api/v1/mailboxes/{did}/{uid}';

/** The handler's mailbox: routes under MAILBOX_PATH always have one. */
export const mailboxOf = (context: RequestContext): Mailbox => context.mailbox!;

export interface ApiDeps {
  nc: NatsConnection;
  staging: StagingBucket;
  signer: TokenSigner;
  config: WebConfig;
  /** The domains file: a domain's `maxMessages` bounds a forward to its mailboxes. */
  domains: Domains;
}

/** Links signed for the principal asking: they expire after WEB_AUDIO_LINK_TTL, never after its token. */
export function linksFor(deps: ApiDeps, principal: Principal | undefined, mailbox: Mailbox): LinkMaker {
  const tokenId = principal?.kind === 'mailbox' ? principal.token.id : principal?.kind === 'link' ? principal.link.tokenId : 'operator';
  const notAfter = principal?.kind === 'mailbox' ? principal.token.expiresAt : undefined;
  return (path, resource) => {
    const { link, expiresAt } = deps.signer.issueLink(mailbox, resource, tokenId, deps.config.WEB_AUDIO_LINK_TTL, notAfter);
    return { audioUrl: `${path}?link=${link}`, audioUrlExpiresAt: new Date(expiresAt * 1000).toISOString() };
  };
}
