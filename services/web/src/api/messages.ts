/** Routes of a mailbox's messages: list with counts, one message, its audio, mark read/unread, delete. */
import { LIST_PAGE_MAX_WITH_TRANSCRIPTS, request, StorageApi, type Mailbox, type MessageInfo } from '@sipvm/contracts';
import type { NatsConnection } from '@nats-io/nats-core';
import { z } from 'zod';
import { HttpError, sendJson } from '../http/problem.js';
import { readJson } from '../http/body.js';
import type { Route } from '../http/server.js';
import { sendAudio } from './audio.js';
import { linksFor, mailboxOf, MAILBOX_PATH, type ApiDeps } from './deps.js';
import { ForwardRequestSchema, MarkRequestSchema, messageView } from './views.js';

const PageSchema = z.strictObject({
  offset: z.coerce.number().int().nonnegative().default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export function messageRoutes(deps: ApiDeps): Route[] {
  const { nc } = deps;
  return [
    {
      method: 'GET',
      path: `${MAILBOX_PATH}/messages`,
      access: { kind: 'mailbox', scope: 'messages:read' },
      async handle(context) {
        const mailbox = mailboxOf(context);
        const page = PageSchema.safeParse(Object.fromEntries(context.query));
        if (!page.success) throw new HttpError(400, 'offset must be 0 or more and limit 1 to 1000');
        const [list, { counts }] = await Promise.all([
          listWithTranscripts(nc, mailbox, page.data.offset, page.data.limit),
          request(nc, StorageApi.countMailbox, { mailbox }),
        ]);
        const link = linksFor(deps, context.principal, mailbox);
        sendJson(context.res, 200, { mailbox, counts, total: list.total, ...page.data, messages: list.messages.map((m) => messageView(m, link)) });
      },
    },
    {
      method: 'GET',
      path: `${MAILBOX_PATH}/messages/{id}`,
      access: { kind: 'mailbox', scope: 'messages:read' },
      async handle(context) {
        const mailbox = mailboxOf(context);
        const { message } = await request(nc, StorageApi.getMessage, { mailbox, id: context.params.id! });
        sendJson(context.res, 200, messageView(message, linksFor(deps, context.principal, mailbox)));
      },
    },
    {
      method: 'GET',
      path: `${MAILBOX_PATH}/messages/{id}/audio`,
      access: { kind: 'mailbox', scope: 'messages:read', audio: (params) => ({ kind: 'message', id: params.id! }) },
      async handle(context) {
        const mailbox = mailboxOf(context);
        const { message } = await request(nc, StorageApi.getMessage, { mailbox, id: context.params.id! });
        await sendAudio(nc, context, {
          ref: { kind: 'message', mailbox, id: message.id },
          size: message.size,
          // A message's audio is written once and never changes: its id is a strong tag.
          etag: `"${message.id}"`,
          filename: `${message.id}.wav`,
        });
      },
    },
    {
      method: 'PATCH',
      path: `${MAILBOX_PATH}/messages/{id}`,
      access: { kind: 'mailbox', scope: 'messages:write' },
      async handle(context) {
        const mailbox = mailboxOf(context);
        const { read } = await readJson(context.req, MarkRequestSchema);
        // Through storage, which publishes the mailbox event MWI follows, as a change on the phone does.
        const { message, counts } = await request(nc, StorageApi.markMessage, { mailbox, id: context.params.id!, read });
        context.log.info({ messageId: message.id, read }, 'message marked');
        sendJson(context.res, 200, { message: messageView(message, linksFor(deps, context.principal, mailbox)), counts });
      },
    },
    {
      method: 'POST',
      path: `${MAILBOX_PATH}/messages/{id}/forward`,
      access: { kind: 'mailbox', scope: 'messages:write' },
      async handle(context) {
        const mailbox = mailboxOf(context);
        const { to: uid } = await readJson(context.req, ForwardRequestSchema);
        const to = { did: mailbox.did, uid };
        // The receiving mailbox's limit as a call to it would have it: its domain's, else the platform's.
        const maxMessages = deps.domains.of(to.did).maxMessages ?? deps.config.VM_MAX_MESSAGES;
        // Through storage, which counts the copy and announces it (MWI, webhooks) like any new message.
        const { message } = await request(nc, StorageApi.forwardMessage, { mailbox, id: context.params.id!, to, ...(maxMessages > 0 ? { maxMessages } : {}) });
        context.log.info({ messageId: context.params.id, to: `${to.uid}@${to.did}`, copy: message.id }, 'message forwarded');
        sendJson(context.res, 201, { forwarded: { mailbox: to, id: message.id } });
      },
    },
    {
      method: 'DELETE',
      path: `${MAILBOX_PATH}/messages/{id}`,
      access: { kind: 'mailbox', scope: 'messages:write' },
      async handle(context) {
        const mailbox = mailboxOf(context);
        const { deleted, counts } = await request(nc, StorageApi.deleteMessage, { mailbox, id: context.params.id! });
        context.log.info({ messageId: context.params.id, deleted }, 'message deleted');
        sendJson(context.res, 200, { deleted, counts });
      },
    },
  ];
}

/**
 * A page of the mailbox with each message's transcript. Storage answers those in pages of at most
 * LIST_PAGE_MAX_WITH_TRANSCRIPTS (a reply must fit in one NATS message), so a longer page is asked
 * for in parts, until it is full or the mailbox has no more.
 */
async function listWithTranscripts(nc: NatsConnection, mailbox: Mailbox, offset: number, limit: number): Promise<{ messages: MessageInfo[]; total: number }> {
  const messages: MessageInfo[] = [];
  let total = 0;
  for (let from = offset; from < offset + limit; from += LIST_PAGE_MAX_WITH_TRANSCRIPTS) {
    const part = await request(nc, StorageApi.listMailbox, {
      mailbox,
      offset: from,
      limit: Math.min(LIST_PAGE_MAX_WITH_TRANSCRIPTS, offset + limit - from),
      transcripts: true,
    });
    messages.push(...part.messages);
    total = part.total;
    if (from + LIST_PAGE_MAX_WITH_TRANSCRIPTS >= total) break;
  }
  return { messages, total };
}
