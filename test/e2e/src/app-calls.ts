/**
 * A call to one of the platform's applications, the caller played by the test: sipp places it
 * through the rig's drachtio-server (the platform hangs up), the project's RTP endpoint is the
 * phone. `caller` gets the phone and two waits: `played(id)` until playback `id` has ended,
 * `playing(id)` until the flow asked for it (from then on the call is in the state that plays it).
 */
import assert from 'node:assert/strict';
import { stageAudio, stagingBucket, request, StorageApi, type Mailbox } from '@sipvm/contracts';
import { RtpEndpoint, toneWav } from '@sipvm/harness';
import { sippReport, type CallEventSeen, type MediaRequestSeen, type SignalingRig } from './rig.js';

export type Caller = (phone: RtpEndpoint, played: (id: string) => Promise<void>, playing: (id: string) => Promise<void>) => Promise<void>;

export async function callApplication(
  rig: SignalingRig,
  app: 'voicebox' | 'annrecorder' | 'voicemail',
  params: string,
  caller: Caller,
  /** What else explains a failed call (the application's log). */
  explain: () => string = () => '',
): Promise<{ heard: Int16Array; requests: MediaRequestSeen[] }> {
  const phone = await RtpEndpoint.create('PCMU');
  const from = rig.events.length;
  const requestsFrom = rig.mediaRequests.length;
  const sipp = rig.sipp('voicemail-platform-bye.xml', { keys: { app_name: app, app_param: params, rtp_port: String(phone.port) }, timeoutSeconds: 120 });
  const played = (id: string) =>
    rig.waitFor(
      () => rig.events.slice(from).some((e: CallEventSeen) => e.subject === `vm.call.${app}.playback-finished` && e.event.playbackId === id),
      `${app} playback ${id} to finish`,
      60_000,
    );
  const playing = (id: string) =>
    rig.waitFor(
      () => rig.mediaRequests.slice(requestsFrom).some((r) => r.subject.endsWith('.play') && r.request.playbackId === id),
      `${app} playback ${id} to be asked for`,
      60_000,
    );
  try {
    await phone.latchRemote(15_000);
    await caller(phone, played, playing);
    const result = await sipp;
    assert.equal(result.exitCode, 0, sippReport(result, rig) + explain());
    return { heard: await phone.receivedPcm(), requests: rig.mediaRequests.slice(requestsFrom) };
  } finally {
    await sipp.catch(() => undefined);
    phone.close();
  }
}

let deposited = 0;

/** A message of a 2-second tone, stored the way voicemail stores one. */
export async function depositTone(
  rig: SignalingRig,
  mailbox: Mailbox,
  frequency: number,
  options: { recordedAt?: string; urgent?: boolean } = {},
): Promise<string> {
  const audio = await stageAudio(
    await stagingBucket(rig.nc),
    `e2e-tone-${process.pid}-${deposited++}`,
    (async function* () {
      yield toneWav(frequency, 2_000);
    })(),
  );
  const { message } = await request(rig.nc, StorageApi.createMessage, {
    mailbox,
    sender: 'sip:+4930555@caller.example.org',
    recordedAt: options.recordedAt ?? new Date().toISOString(),
    durationMs: 2_000,
    codec: 'PCMU',
    urgent: options.urgent ?? false,
    audio,
  });
  return message.id;
}
