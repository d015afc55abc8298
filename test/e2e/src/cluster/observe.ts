/**
 * What the cluster test learns from the platform itself: the calls it took (from the call events on
 * NATS: which node answered, who called, whether the recording started, whether it ended), the
 * media requests it made, and the messages a mailbox holds (from storage), by sender.
 *
 * The events are core NATS messages: a subscriber moving to another server (its server restarted,
 * killed or in lame duck mode) misses what is published until its interest reaches the cluster
 * again. So the observer listens through one connection per server, each held to its server, and
 * merges what they hear: while one server is away, the others still deliver every event (the
 * upgrade test once lost one call.started this way, with the caller's message stored).
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import {
  CallEndedEventSchema,
  CallStartedEventSchema,
  DepositOutcomeSchema,
  PlaybackFinishedEventSchema,
  request,
  StorageApi,
  SUBJECTS,
  type Mailbox,
} from '@sipvm/contracts';
import type { NatsCluster } from '@sipvm/harness';

export interface CallSeen {
  readonly callRef: string;
  readonly callId: string;
  readonly app: string;
  /** The signaling instance that answered it: its node. */
  readonly signalingInstance: string;
  readonly mediaNode: string;
  readonly mailbox: Mailbox;
  /** P-App-Param's sender: the caller's URI, which the proxy passes on. */
  readonly sender: string;
  readonly startedAt: number;
  /** When media started recording after the greeting and beep: the caller had heard the beep. */
  recordingStartedAt?: number;
  endedAt?: number;
  endReason?: string;
  /** What became of its recording (voicemail's deposit outcome): stored, discarded-short, … */
  outcome?: string;
}

export interface MediaPlaySeen {
  readonly instance: string;
  readonly callRef: string;
  readonly playbackId: string;
  readonly items: { kind: string; id?: string }[];
}

export interface Observer {
  /** Calls by callRef, in the order they started. */
  readonly calls: Map<string, CallSeen>;
  readonly plays: MediaPlaySeen[];
  /** Playbacks that finished, as `<app>/<callRef>/<playbackId>`. */
  readonly finished: Set<string>;
  /** The calls of one mailbox. */
  callsOf(mailbox: Mailbox): CallSeen[];
  stop(): Promise<void>;
}

/** Listens through one connection to each server of `nats`; each event counts once. */
export async function observe(nats: NatsCluster): Promise<Observer> {
  const connections = await Promise.all(nats.servers.map((server) => server.connect({ maxReconnectAttempts: -1, reconnectTimeWait: 100 })));
  const calls = new Map<string, CallSeen>();
  const plays: MediaPlaySeen[] = [];
  const playsSeen = new Set<string>();
  const finished = new Set<string>();
  const subs: Subscription[] = connections.flatMap((nc) => [
    nc.subscribe(SUBJECTS.call.all, {
      callback: (_error, msg) => {
        const [, , app, kind] = msg.subject.split('.');
        if (kind === 'started') {
          const e = CallStartedEventSchema.parse(msg.json());
          if (calls.has(e.callRef)) return;
          calls.set(e.callRef, {
            callRef: e.callRef,
            callId: e.callId,
            app: e.app,
            signalingInstance: e.signalingInstance,
            mediaNode: e.mediaNode,
            mailbox: { did: e.params.did, uid: e.params.uid },
            sender: e.params.sender,
            startedAt: Date.parse(e.at),
          });
        } else if (kind === 'playback-finished') {
          const e = PlaybackFinishedEventSchema.parse(msg.json());
          finished.add(`${app}/${e.callRef}/${e.playbackId}`);
          const call = calls.get(e.callRef);
          if (call && e.recordingStartedAt) call.recordingStartedAt = Date.parse(e.recordingStartedAt);
        } else if (kind === 'ended') {
          const e = CallEndedEventSchema.parse(msg.json());
          const call = calls.get(e.callRef);
          if (call && call.endedAt === undefined) {
            call.endedAt = Date.parse(e.at);
            call.endReason = e.reason;
          }
        }
      },
    }),
    nc.subscribe(SUBJECTS.voicemail.depositOutcome, {
      callback: (_error, msg) => {
        const outcome = DepositOutcomeSchema.parse(msg.json());
        // Media names each recording recording-<callRef>-<start>.wav, and that is the deposit's id.
        const callRef = /^recording-([A-Za-z0-9]+)-\d+\.wav$/.exec(outcome.depositId)?.[1];
        const call = callRef === undefined ? undefined : calls.get(callRef);
        if (call) call.outcome = outcome.outcome;
      },
    }),
    nc.subscribe('vm.media.*.play', {
      callback: (_error, msg) => {
        const req = msg.json<{ callRef: string; playbackId: string; items: { kind: string; id?: string }[] }>();
        const instance = msg.subject.split('.')[2] ?? '';
        const key = `${instance}/${req.callRef}/${req.playbackId}`;
        if (playsSeen.has(key)) return;
        playsSeen.add(key);
        plays.push({ instance, callRef: req.callRef, playbackId: req.playbackId, items: req.items });
      },
    }),
  ]);
  // Every server knows of every subscription before the first call.
  await Promise.all(connections.map((nc) => nc.flush()));
  return {
    calls,
    plays,
    finished,
    callsOf: (mailbox) => [...calls.values()].filter((c) => c.mailbox.uid === mailbox.uid && c.mailbox.did === mailbox.did),
    stop: async () => {
      subs.forEach((s) => s.unsubscribe());
      await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
    },
  };
}

/** How many messages the mailbox holds from each sender. */
export async function messagesBySender(nc: NatsConnection, mailbox: Mailbox): Promise<Map<string, number>> {
  const { messages } = await request(nc, StorageApi.listMailbox, { mailbox });
  const counts = new Map<string, number>();
  for (const message of messages) counts.set(message.sender, (counts.get(message.sender) ?? 0) + 1);
  return counts;
}

/** A count per key: how many calls each node took, say. */
export function tally<T>(items: Iterable<T>, key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}
