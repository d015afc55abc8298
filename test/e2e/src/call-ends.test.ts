/**
 * The end of a call against a real nats-server (contracts `publishCallEnded`): where a stream
 * captures it (voicemail) it is in the stream once however often it is published, and it waits
 * for the stream through an outage; where none does, subscribers still get it. Published as
 * signaling (the NATS permissions of the one that publishes ends), watched as admin.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import { ensureStreams, publishCallEnded, STREAMS, SUBJECTS, type CallEndedEvent } from '@sipvm/contracts';
import { startNats, waitFor, type NatsServer } from '@sipvm/harness';

let nats: NatsServer;
let nc: NatsConnection;
let signaling: NatsConnection;
before(async () => {
  nats = await startNats();
  nc = await nats.connect({ maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  signaling = await nats.connect({ identity: 'signaling', maxReconnectAttempts: -1, reconnectTimeWait: 100 });
});
after(async () => {
  await signaling?.close();
  await nc?.close();
  await nats?.close();
});

const ended = (callRef: string): CallEndedEvent => ({ callRef, callId: `${callRef}@test`, at: new Date().toISOString(), reason: 'caller-hangup' });

it('reaches subscribers where no stream captures the end (no voicemail deployed; voicebox never has one)', async () => {
  const seen: string[] = [];
  for (const app of ['voicemail', 'voicebox'] as const) {
    nc.subscribe(SUBJECTS.call.ended(app), {
      callback: (_e, msg) => {
        seen.push(`${app}:${msg.json<CallEndedEvent>().callRef}`);
      },
    });
  }
  await nc.flush();
  await publishCallEnded(signaling, 'voicemail', ended('nostream0001'));
  await publishCallEnded(signaling, 'voicebox', ended('voicebox0001'));
  await waitFor(() => seen.length >= 2, 2_000, 'both ends');
  await nc.flush();
  assert.deepEqual(seen.sort(), ['voicebox:voicebox0001', 'voicemail:nostream0001'], 'each end once');
});

it('is in the stream once when signaling and media both end the call, and waits for the stream through an outage', async () => {
  const jsm = await jetstreamManager(nc);
  await ensureStreams(jsm, ['voicemailCallEnds']);
  await publishCallEnded(signaling, 'voicemail', ended('twice0000001'));
  await publishCallEnded(signaling, 'voicemail', ended('twice0000001'));
  assert.equal((await jsm.streams.info(STREAMS.voicemailCallEnds.name)).state.messages, 1);

  await nats.stop();
  const published = publishCallEnded(signaling, 'voicemail', ended('outage000001'));
  await nats.start();
  await published;
  assert.equal((await (await jetstreamManager(nc)).streams.info(STREAMS.voicemailCallEnds.name)).state.messages, 2);
});
