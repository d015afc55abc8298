/**
 * The voicemail application's own action: the hand-over of the recorded message. It stops the
 * recording (media answers a repeated stop with the same recording) and hands the deposit to the
 * deposit processor, which makes it a message at once or queues it for retries; it throws when it
 * cannot, so the runtime takes the event again (`onFailure: retry`).
 */
import { recordingOf, type ActionContext } from '@sipvm/service';
import type { VoicemailCall } from './app.js';
import { withNumberForPeople } from './caller-number.js';
import type { DepositProcessor } from '../deposit/processor.js';

/** `country`: the domain's, for the caller's number as people read it. */
export async function handOver(
  call: VoicemailCall,
  context: ActionContext,
  deposits: Pick<DepositProcessor, 'hand'>,
  country: string | undefined,
): Promise<void> {
  const recording = await recordingOf(context);
  if (!recording) {
    context.log.info('nothing was recorded');
    return;
  }
  const { params } = call;
  if (call.state.mode === 'ann') return; // announcements record nothing
  await deposits.hand({
    depositId: recording.audio.name,
    mode: call.state.mode,
    user: params.user,
    domain: params.domain,
    uid: params.uid,
    did: params.did,
    ...(params.email !== undefined ? { email: params.email } : {}),
    ...(params.language !== undefined ? { language: params.language } : {}),
    sender: params.sender,
    ...(params.caller !== undefined ? { caller: withNumberForPeople(params.caller, country) } : {}),
    urgent: call.state.urgent,
    recordedAt: recording.startedAt,
    durationMs: recording.durationMs,
    codec: recording.codec,
    audio: recording.audio,
    ...(recording.loudestDbfs !== undefined ? { loudestDbfs: recording.loudestDbfs } : {}),
    extra: params.extra,
    ...(call.quota ? { maxMessages: call.quota.maxMessages, quotaWarnPercent: call.quota.warnPercent } : {}),
  });
  context.log.debug({ depositId: recording.audio.name, durationMs: recording.durationMs, urgent: call.state.urgent }, 'message handed over');
}
