/** The storage service's NATS face: every StorageApi endpoint and ranged audio reads. */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { serve, serveAudioChunks, STORAGE_QUEUE, StorageApi, type Endpoint, type Handler } from '@sipvm/contracts';
import { InFlight, requestInstrumentation, type Logger } from '@sipvm/service';
import type { Registry } from 'prom-client';
import type { MailboxStore } from './mailbox-store.js';

export function serveStorageApi(nc: NatsConnection, store: MailboxStore, log: Logger, registry: Registry) {
  const inFlight = new InFlight();
  const hooks = requestInstrumentation(registry, log);
  const options = { queue: STORAGE_QUEUE, ...hooks };
  const on = <E extends Endpoint>(ep: E, handler: Handler<E>): Subscription =>
    serve(nc, ep, (req, context) => inFlight.track(handler(req, context)), options);

  const subscriptions = [
    on(StorageApi.createMessage, (req) => store.createMessage(req)),
    on(StorageApi.getMessage, async (req) => ({ message: await store.getMessage(req.mailbox, req.id) })),
    on(StorageApi.deleteMessage, (req) => store.deleteMessage(req.mailbox, req.id)),
    on(StorageApi.markMessage, (req) => store.markMessage(req.mailbox, req.id, req.read)),
    on(StorageApi.listMailbox, (req) => store.listMailbox(req.mailbox, req.offset, req.limit)),
    on(StorageApi.countMailbox, async (req) => ({ counts: await store.countMailbox(req.mailbox) })),
    on(StorageApi.putGreeting, async (req) => ({ greeting: await store.putGreeting(req.mailbox, req.type, req.audio) })),
    on(StorageApi.getGreeting, async (req) => ({ greeting: await store.getGreeting(req.mailbox, req.type) })),
    on(StorageApi.deleteGreeting, (req) => store.deleteGreeting(req.mailbox, req.type)),
    serveAudioChunks(nc, (req) => inFlight.track(store.readAudio(req)), {
      queue: STORAGE_QUEUE,
      onError: (error) => hooks.onError(error, { subject: 'vm.storage.audio.read', callId: undefined, headers: undefined }),
    }),
  ];

  return {
    /** Stops taking requests and waits for those in progress. */
    async stop(): Promise<void> {
      await Promise.all(subscriptions.map((sub) => sub.drain()));
      await inFlight.idle();
    },
  };
}
