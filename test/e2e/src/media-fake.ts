/**
 * FAKE media service, for signaling's end-to-end tests while the real one (services/media with
 * rtpengine) is not available: it answers openSession / updateSession / closeSession on the
 * contract's subjects (of the default node) with a fixed, valid SDP answer and records what it was asked (and says it is
 * ready when signaling asks, so signaling takes calls). It plays no
 * audio and opens no RTP port. Calls whose Call-ID starts with `slow-` are answered after
 * `slowMs`, so a CANCEL can arrive before the answer.
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { DEFAULT_MEDIA_NODE, MEDIA_QUEUE, MediaApi, serve, ServiceError } from '@sipvm/contracts';

export const FAKE_MEDIA_INSTANCE = 'media-fake-1';

export interface MediaResponderFake {
  readonly opened: { callRef: string; callId: string; app: string }[];
  readonly updated: { callRef: string; sdpOffer: string }[];
  readonly closed: string[];
  stop(): void;
}

export function fakeSdpAnswer(version = 1): string {
  return [
    'v=0',
    `o=sipvm-fake 1 ${version} IN IP4 127.0.0.1`,
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    'm=audio 40000 RTP/AVP 0 101',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-15',
    'a=sendrecv',
    '',
  ].join('\r\n');
}

export function startMediaResponderFake(nc: NatsConnection, options: { slowMs?: number } = {}): MediaResponderFake {
  const opened: MediaResponderFake['opened'] = [];
  const updated: MediaResponderFake['updated'] = [];
  const closed: string[] = [];
  const sessions = new Set<string>();
  const subs: Subscription[] = [
    serve(nc, MediaApi.status(DEFAULT_MEDIA_NODE), async () => ({ mediaInstance: FAKE_MEDIA_INSTANCE, ready: true }), { queue: MEDIA_QUEUE }),
    serve(
      nc,
      MediaApi.openSession(DEFAULT_MEDIA_NODE),
      async (req) => {
        if (req.callId.startsWith('slow-')) await new Promise((resolve) => setTimeout(resolve, options.slowMs ?? 1_500));
        if (!/^m=audio /m.test(req.sdpOffer)) throw new ServiceError('bad-request', 'no audio stream in the offer');
        opened.push({ callRef: req.callRef, callId: req.callId, app: req.app });
        sessions.add(req.callRef);
        return { mediaInstance: FAKE_MEDIA_INSTANCE, sdpAnswer: fakeSdpAnswer(), codec: 'PCMU' };
      },
      { queue: MEDIA_QUEUE },
    ),
    serve(nc, MediaApi.updateSession(FAKE_MEDIA_INSTANCE), async (req) => {
      if (!sessions.has(req.callRef)) throw new ServiceError('bad-request', 'no such session');
      updated.push({ callRef: req.callRef, sdpOffer: req.sdpOffer });
      return { sdpAnswer: fakeSdpAnswer(updated.length + 1) };
    }),
    serve(nc, MediaApi.closeSession(FAKE_MEDIA_INSTANCE), async (req) => {
      closed.push(req.callRef);
      return { closed: sessions.delete(req.callRef) };
    }),
  ];
  return { opened, updated, closed, stop: () => subs.forEach((s) => s.unsubscribe()) };
}
