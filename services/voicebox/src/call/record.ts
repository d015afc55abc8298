/** What the records of voicebox and annrecorder calls share: who holds the call, the mailbox, the language. */
import { z } from 'zod';
import { BUCKETS, MailboxSchema, type CallStartedEvent, type Mailbox } from '@sipvm/contracts';
import { CallBaseShape } from '@sipvm/service';
import type { Voice } from '../voicebox/speech.js';

/** Both applications keep their calls in one bucket (a record says whose call it is) and share one queue group. */
export const CALLS_BUCKET = BUCKETS.voiceboxCalls;
export const VOICEBOX_QUEUE = 'voicebox';

export const CommonShape = {
  ...CallBaseShape,
  mailbox: MailboxSchema,
  language: z.string(),
};

export interface Common {
  callRef: string;
  callId: string;
  signalingInstance: string;
  mediaInstance: string;
  mediaNode: string;
  mailbox: Mailbox;
  language: string;
}

/** The record's common part, from the call's start. */
export function commonOf(event: CallStartedEvent): Common {
  const { params } = event;
  return {
    callRef: event.callRef,
    callId: event.callId,
    signalingInstance: event.signalingInstance,
    mediaInstance: event.mediaInstance,
    mediaNode: event.mediaNode,
    mailbox: { did: params.did, uid: params.uid },
    // Signaling puts its DEFAULT_LANGUAGE here when P-App-Param has no lng.
    language: params.language ?? 'en',
  };
}

/** How the call speaks: its language, and the mailbox's domain (an operator's recordings for it come first). */
export const voiceOf = (call: Pick<Common, 'language' | 'mailbox'>): Voice => ({ language: call.language, domain: call.mailbox.did });
