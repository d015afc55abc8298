/**
 * FAKE applications, for signaling's end-to-end tests that run no voicemail or voicebox service:
 * they take every call signaling offers (answer its call-start request, as a real instance does
 * once the call's record exists), so that signaling answers the caller, and do nothing else. The
 * test plays the application's part itself (hang-up commands, final replies) and reads the call
 * events from the bus. Tests that run the real applications must not start it: both would answer.
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { APPLICATIONS, CallApi, serve } from '@sipvm/contracts';

export interface ApplicationsFake {
  /** The calls taken, by callRef. */
  readonly taken: string[];
  stop(): void;
}

export function startApplicationsFake(nc: NatsConnection): ApplicationsFake {
  const taken: string[] = [];
  const subs: Subscription[] = APPLICATIONS.map((app) =>
    serve(nc, CallApi.start(app), async (event) => {
      taken.push(event.callRef);
      return { taken: true as const };
    }),
  );
  return { taken, stop: () => subs.forEach((s) => s.unsubscribe()) };
}
