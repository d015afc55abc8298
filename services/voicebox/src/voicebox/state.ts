/** The voicebox call's state as its record keeps it, and the settings its flow runs with. */
import { z } from 'zod';
import { PlayableSchema, type Mailbox } from '@sipvm/contracts';
import type { CallAction } from '@sipvm/service';
import { RecordedAudioSchema, TurnSchema, type Step } from '../call/turn.js';
import { MailboxEntrySchema, SEGMENTS, type VoiceboxAction } from './events.js';
import type { KeyMap } from './keys.js';
import type { Voice } from './speech.js';

export const VOICEBOX_PHASES = [
  'pin',
  'checking-pin',
  'loading',
  'summary',
  'paging',
  'announce',
  'message',
  'menu',
  'end',
  'forward-number',
  'forward-choice',
  'forward-recording',
  'forward-stopping',
  'forwarding',
  'goodbye',
  'done',
] as const;
export type VoiceboxPhase = (typeof VOICEBOX_PHASES)[number];

export const VoiceboxStateSchema = TurnSchema.extend({
  phase: z.enum(VOICEBOX_PHASES),
  /** PIN digits (or, when forwarding, the other mailbox's number) entered so far. */
  entered: z.string(),
  /** Wrong PINs in this call. */
  tries: z.number().int(),
  /** Welcome not said yet (it is said with the PIN prompt, or with the summary). */
  welcome: z.boolean(),
  /** The messages heard in this session: they still count as new for its pages (stable pages). */
  heard: z.array(z.string()).default([]),
  /** Which listing the page is of: new messages, then saved ones. */
  segment: z.enum(SEGMENTS),
  /** The messages around the caller: one page, whatever the size of the mailbox. */
  page: z.array(MailboxEntrySchema),
  /** Index of the current message in `page`. */
  cursor: z.number().int(),
  /** Messages of the segment before the page (0: the page is its first). */
  before: z.number().int(),
  /** There are messages of the segment after the page. */
  more: z.boolean(),
  /** Said before the next message once its page has arrived ("message deleted"). */
  prefix: z.array(PlayableSchema).default([]),
  /** The message being forwarded: to whom, with which introduction. */
  forward: z.object({ to: z.string(), introduction: RecordedAudioSchema.optional() }).optional(),
});
export type VoiceboxState = z.infer<typeof VoiceboxStateSchema>;

export interface VoiceboxSettings {
  mailbox: Mailbox;
  voice: Voice;
  keys: KeyMap;
  inputTimeoutMs: number;
  pinTries: number;
  envelope: 'on-request' | 'always';
  timeZone: string;
  /** Longest introduction to a forwarded message. */
  introductionMaxMs: number;
}

export type VoiceboxStep = Step<VoiceboxState, CallAction | VoiceboxAction>;
