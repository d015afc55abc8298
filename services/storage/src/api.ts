/** The storage service's NATS face: every StorageApi endpoint and ranged audio reads. */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import {
  encodeJson,
  GreetingChangedEventSchema,
  serve,
  serveAudioChunks,
  STORAGE_QUEUE,
  StorageApi,
  SUBJECTS,
  type Endpoint,
  type GreetingChangedEvent,
  type Handler,
} from '@sipvm/contracts';
import { InFlight, requestInstrumentation, type Logger } from '@sipvm/service';
import type { Registry } from 'prom-client';
import type { MailboxStore } from './mailbox-store.js';
import type { GreetingStore } from './greetings.js';

export function serveStorageApi(nc: NatsConnection, store: MailboxStore, greetings: GreetingStore, log: Logger, registry: Registry) {
  const inFlight = new InFlight();
  const hooks = requestInstrumentation(registry, log);
  const options = { queue: STORAGE_QUEUE, ...hooks };
  const on = <E extends Endpoint>(ep: E, handler: Handler<E>): Subscription => serve(nc, ep, (req, context) => inFlight.track(handler(req, context)), options);

  /** Who keeps greeting look-ups (voicemail) hears of every change at once. */
  const announce = (event: GreetingChangedEvent) => nc.publish(SUBJECTS.storage.greetingChanged, encodeJson(GreetingChangedEventSchema.parse(event)));

  const subscriptions = [
    on(StorageApi.createMessage, (req) => store.createMessage(req)),
    on(StorageApi.getMessage, async (req) => ({ message: await store.getMessage(req.mailbox, req.id) })),
    on(StorageApi.deleteMessage, (req) => store.deleteMessage(req.mailbox, req.id)),
    on(StorageApi.markMessage, (req) => store.markMessage(req.mailbox, req.id, req.read)),
    on(StorageApi.setTranscript, async (req) => ({ message: await store.setTranscript(req.mailbox, req.id, req.transcript) })),
    on(StorageApi.forwardMessage, (req) => store.forwardMessage(req)),
    on(StorageApi.listMailbox, ({ mailbox, ...query }) => store.listMailbox(mailbox, query)),
    on(StorageApi.countMailbox, async (req) => ({ counts: await store.countMailbox(req.mailbox) })),
    on(StorageApi.putGreeting, async (req) => {
      const greeting = await greetings.put(req.mailbox, req.type, req.audio, req.until);
      announce({ mailbox: req.mailbox, type: req.type, change: 'recorded', at: new Date().toISOString() });
      return { greeting };
    }),
    on(StorageApi.getGreeting, async (req) => ({ greeting: await greetings.get(req.mailbox, req.type) })),
    on(StorageApi.resolveGreeting, (req) => greetings.resolve(req.mailbox, req.type)),
    on(StorageApi.deleteGreeting, async (req) => {
      const deleted = await greetings.delete(req.mailbox, req.type);
      announce({ mailbox: req.mailbox, type: req.type, change: 'deleted', at: new Date().toISOString() });
      return deleted;
    }),
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
