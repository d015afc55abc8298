/**
 * Who may publish and subscribe what on NATS: the one table the NATS server's authorisation is
 * generated from (nats-auth.ts), so a subject, stream or bucket without a rule is a failing test
 * (permissions.test.ts), not a hole.
 *
 * Each service connects as its own identity (an nkey); `admin` is for operators' tools and for
 * tests that watch everything, `bench` for the benchmarks. A request needs a rule for the asker
 * (publish) and the answerer (subscribe); answers go back to the asker's inbox
 * (`_INBOX.<identity>.>`), which only a subscriber of the request may publish to. A stream's
 * subjects are written by the publishers in SUBJECT_RULES; what else its users may do (consume,
 * read, purge) is in STREAM_RULES. Buckets belong to one service each.
 *
 * Adding a subject, a stream or a bucket is one line here.
 */
import { BUCKETS, type BucketKey } from './buckets.js';
import { STREAMS, type StreamName } from './streams.js';
import { SUBJECTS } from './subjects.js';

export const SERVICE_IDENTITIES = ['storage', 'media', 'signaling', 'voicemail', 'voicebox', 'web', 'bench'] as const;
export type ServiceIdentity = (typeof SERVICE_IDENTITIES)[number];
export const NATS_IDENTITIES = [...SERVICE_IDENTITIES, 'admin'] as const;
export type NatsIdentity = (typeof NATS_IDENTITIES)[number];

/** Per-instance and per-node subjects (`vm.media.<instance>.play`, `vm.media.node.<node>.status`) are granted for every one. */
const ANY = '*';

export interface SubjectRule {
  readonly subject: string;
  /** Who publishes it (events) or asks (requests). */
  readonly publish: readonly ServiceIdentity[];
  /** Who subscribes to it (events) or answers (requests). */
  readonly subscribe: readonly ServiceIdentity[];
}

const rule = (subject: string, publish: readonly ServiceIdentity[], subscribe: readonly ServiceIdentity[]): SubjectRule => ({ subject, publish, subscribe });

export const SUBJECT_RULES: readonly SubjectRule[] = [
  //   subject                                       publish / ask                                     subscribe / answer
  rule(SUBJECTS.storage.messageCreate, ['voicemail', 'bench'], ['storage']),
  rule(SUBJECTS.storage.messageGet, ['web'], ['storage']),
  rule(SUBJECTS.storage.messageDelete, ['voicebox', 'web'], ['storage']),
  rule(SUBJECTS.storage.messageMark, ['voicebox', 'web'], ['storage']),
  rule(SUBJECTS.storage.messageTranscript, ['voicemail'], ['storage']),
  rule(SUBJECTS.storage.messageForward, ['voicebox', 'web'], ['storage']),
  rule(SUBJECTS.storage.mailboxList, ['voicebox', 'web'], ['storage']),
  rule(SUBJECTS.storage.mailboxCount, ['signaling', 'voicemail', 'voicebox', 'web', 'bench'], ['storage']),
  rule(SUBJECTS.storage.greetingPut, ['voicebox', 'web', 'bench'], ['storage']),
  rule(SUBJECTS.storage.greetingGet, ['voicemail', 'voicebox', 'web'], ['storage']),
  rule(SUBJECTS.storage.greetingDelete, ['voicebox', 'web'], ['storage']),
  rule(SUBJECTS.storage.greetingResolve, ['voicemail', 'voicebox'], ['storage']),
  rule(SUBJECTS.storage.greetingChanged, ['storage'], ['voicemail']),
  // voicemail: the transcriber hears a stored message (its recording was voicemail's to hand over).
  rule(SUBJECTS.storage.audioRead, ['media', 'web', 'voicemail'], ['storage']),
  rule(SUBJECTS.mailbox.changed, ['storage'], []),
  rule(SUBJECTS.mailbox.transcribed, ['storage'], []),
  rule(SUBJECTS.mailbox.notice, ['storage'], []),
  rule(SUBJECTS.call.started('voicemail'), ['signaling'], ['voicemail', 'bench']),
  rule(SUBJECTS.call.started('voicebox'), ['signaling'], ['voicebox']),
  rule(SUBJECTS.call.started('annrecorder'), ['signaling'], ['voicebox']),
  rule(SUBJECTS.call.digit('voicemail'), ['signaling', 'media'], ['voicemail']),
  rule(SUBJECTS.call.digit('voicebox'), ['signaling', 'media'], ['voicebox']),
  rule(SUBJECTS.call.digit('annrecorder'), ['signaling', 'media'], ['voicebox']),
  rule(SUBJECTS.call.playbackFinished('voicemail'), ['media'], ['voicemail']),
  rule(SUBJECTS.call.playbackFinished('voicebox'), ['media'], ['voicebox']),
  rule(SUBJECTS.call.playbackFinished('annrecorder'), ['media'], ['voicebox']),
  rule(SUBJECTS.call.recordingFinished('voicemail'), ['media'], ['voicemail', 'bench']),
  rule(SUBJECTS.call.recordingFinished('voicebox'), ['media'], ['voicebox']),
  rule(SUBJECTS.call.recordingFinished('annrecorder'), ['media'], ['voicebox']),
  // media too: the calls of a node whose rtpengine came back without them (media sessions.ts).
  rule(SUBJECTS.call.ended('voicemail'), ['signaling', 'media'], ['voicemail', 'bench']),
  rule(SUBJECTS.call.ended('voicebox'), ['signaling', 'media'], ['voicebox']),
  rule(SUBJECTS.call.ended('annrecorder'), ['signaling', 'media'], ['voicebox']),
  rule(SUBJECTS.media.sessionOpen(ANY), ['signaling'], ['media']),
  rule(SUBJECTS.media.status(ANY), ['signaling'], ['media']),
  rule(SUBJECTS.media.sessionUpdate(ANY), ['signaling'], ['media']),
  rule(SUBJECTS.media.play(ANY), ['voicemail', 'voicebox'], ['media']),
  rule(SUBJECTS.media.stopPlayback(ANY), ['voicemail', 'voicebox'], ['media']),
  rule(SUBJECTS.media.recordStart(ANY), ['voicemail', 'voicebox'], ['media']),
  rule(SUBJECTS.media.recordStop(ANY), ['voicemail', 'voicebox'], ['media']),
  rule(SUBJECTS.media.recordRelease(ANY), ['voicemail', 'voicebox'], ['media']),
  rule(SUBJECTS.media.sessionClose(ANY), ['signaling'], ['media']),
  rule(SUBJECTS.media.recordStopOnNode(ANY), ['voicemail', 'voicebox'], ['media']),
  rule(SUBJECTS.media.bridgeOffer(ANY), ['signaling'], ['media']),
  rule(SUBJECTS.media.bridge(ANY), ['signaling'], ['media']),
  rule(SUBJECTS.signaling.hangup(ANY), ['voicemail', 'voicebox'], ['signaling']),
  rule(SUBJECTS.signaling.finalReply(ANY), ['voicemail'], ['signaling']),
  rule(SUBJECTS.signaling.transfer(ANY), ['voicemail'], ['signaling']),
  rule(SUBJECTS.signaling.mwiNotify(ANY), ['signaling'], ['signaling']),
  rule(SUBJECTS.voicemail.deposit, ['voicemail'], []),
  rule(SUBJECTS.voicemail.depositOutcome, ['voicemail'], ['bench']),
  rule(SUBJECTS.voicemail.transcribe, ['voicemail'], []),
  rule(SUBJECTS.voicemail.timer, ['voicemail'], []),
  rule(SUBJECTS.voicebox.timer, ['voicebox'], []),
  rule(SUBJECTS.voicebox.annrecorderTimer, ['voicebox'], []),
  rule(SUBJECTS.staging.file(ANY), ['media', 'web', 'bench'], []),
  rule(SUBJECTS.webhook.deliver, ['web'], []),
  rule(SUBJECTS.webhook.failed, ['web'], []),
  rule(SUBJECTS.mail.send, ['voicemail'], []),
  rule(SUBJECTS.mail.failed, ['voicemail'], []),
];

/**
 * Wildcards of SUBJECTS that name many subjects at once, for observers and stream filters; only
 * `admin` subscribes to them.
 */
export const OBSERVER_WILDCARDS: readonly string[] = [SUBJECTS.call.all, SUBJECTS.staging.all];

export interface StreamRule {
  /** Durable consumers: they take the stream's messages and acknowledge them. */
  readonly consume?: readonly ServiceIdentity[];
  /** Direct reads of single messages (staged audio). */
  readonly read?: readonly ServiceIdentity[];
  /** Purges (staged audio that has arrived). */
  readonly purge?: readonly ServiceIdentity[];
  /** Who creates and updates it; by default everyone who writes, consumes, reads or purges it. */
  readonly manage?: readonly ServiceIdentity[];
  /** Who may only look at its state (how many messages wait). */
  readonly inspect?: readonly ServiceIdentity[];
}

/** What the users of each stream may do besides publishing to its subjects; all of them may create it. */
export const STREAM_RULES: Readonly<Record<StreamName, StreamRule>> = {
  mailbox: { consume: ['signaling', 'web'] },
  // The ends of calls are published with JetStream's acknowledgement (call-ends.ts); a publisher
  // that gets none asks whether the stream exists at all.
  voicemailCallEnds: { consume: ['voicemail'], manage: ['voicemail'], inspect: ['bench', 'signaling', 'media'] },
  voiceboxTimers: { consume: ['voicebox'] },
  voicemailTimers: { consume: ['voicemail'] },
  mailboxNotices: { consume: ['voicemail', 'web'] },
  deposits: { consume: ['voicemail'], inspect: ['bench'] },
  transcriptions: { consume: ['voicemail'] },
  staging: { read: ['storage', 'media', 'voicemail'], purge: ['storage', 'voicemail', 'voicebox', 'web'] },
  mail: { consume: ['voicemail'] },
  mailFailed: {},
  webhooks: { consume: ['web'] },
  webhooksFailed: {},
};

/** The one service that owns each KV bucket. */
export const BUCKET_RULES: Readonly<Record<BucketKey, ServiceIdentity>> = {
  mailboxCounts: 'storage',
  retention: 'storage',
  mwiLamps: 'signaling',
  mwiSubscriptions: 'signaling',
  mediaState: 'media',
  mediaDelivered: 'media',
  voicemailCalls: 'voicemail',
  mailSent: 'voicemail',
  transcriptClaims: 'voicemail',
  voiceboxCalls: 'voicebox',
  pinFailures: 'voicebox',
  webRevocations: 'web',
};

export interface Grants {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

/** The inbox prefix of an identity: its requests' answers arrive below it. */
export const inboxPrefix = (identity: NatsIdentity): string => `_INBOX.${identity}`;

/** Every subject an identity may publish and subscribe to, NATS wildcards included. */
export function grantsOf(identity: NatsIdentity): Grants {
  if (identity === 'admin') return { publish: ['>'], subscribe: ['>'] };
  const publish = new Set<string>();
  const subscribe = new Set<string>([`${inboxPrefix(identity)}.>`]);
  for (const r of SUBJECT_RULES) {
    if (r.publish.includes(identity)) publish.add(r.subject);
    if (r.subscribe.includes(identity)) subscribe.add(r.subject);
  }
  const streamSubjects = (name: StreamName) => STREAMS[name].subjects;
  for (const name of Object.keys(STREAM_RULES) as StreamName[]) {
    const streamRule = STREAM_RULES[name];
    const writes = SUBJECT_RULES.some((r) => r.publish.includes(identity) && streamSubjects(name).some((s) => subjectMatches(r.subject, s)));
    const roles = { consume: streamRule.consume?.includes(identity), read: streamRule.read?.includes(identity), purge: streamRule.purge?.includes(identity) };
    const manage = streamRule.manage ? streamRule.manage.includes(identity) : writes || roles.consume || roles.read || roles.purge;
    if (manage || roles.consume || roles.read || roles.purge || streamRule.inspect?.includes(identity)) {
      for (const subject of jetStreamApi(STREAMS[name].name, { ...roles, manage })) publish.add(subject);
    }
  }
  for (const key of Object.keys(BUCKET_RULES) as BucketKey[]) {
    if (BUCKET_RULES[key] !== identity) continue;
    const bucket = BUCKETS[key];
    publish.add(`$KV.${bucket}.>`);
    for (const subject of jetStreamApi(`KV_${bucket}`, { manage: true, consume: true, read: true, purge: true })) publish.add(subject);
  }
  return { publish: [...publish], subscribe: [...subscribe] };
}

/** The JetStream API subjects one stream's users need, by what they do with it. */
function jetStreamApi(
  stream: string,
  roles: { manage?: boolean | undefined; consume?: boolean | undefined; read?: boolean | undefined; purge?: boolean | undefined },
): string[] {
  const subjects = ['$JS.API.INFO', `$JS.API.STREAM.INFO.${stream}`];
  if (roles.manage) subjects.push(`$JS.API.STREAM.CREATE.${stream}`, `$JS.API.STREAM.UPDATE.${stream}`);
  if (roles.consume) {
    subjects.push(
      `$JS.API.CONSUMER.CREATE.${stream}`,
      `$JS.API.CONSUMER.CREATE.${stream}.>`,
      `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.>`,
      `$JS.API.CONSUMER.INFO.${stream}.>`,
      `$JS.API.CONSUMER.DELETE.${stream}.>`,
      `$JS.API.CONSUMER.MSG.NEXT.${stream}.>`,
      `$JS.ACK.${stream}.>`,
      `$JS.FC.${stream}.>`,
    );
  }
  if (roles.read) subjects.push(`$JS.API.DIRECT.GET.${stream}`, `$JS.API.DIRECT.GET.${stream}.>`, `$JS.API.STREAM.MSG.GET.${stream}`);
  if (roles.purge) subjects.push(`$JS.API.STREAM.PURGE.${stream}`, `$JS.API.STREAM.MSG.DELETE.${stream}`);
  return subjects;
}

/** Whether a concrete subject (or a pattern) falls under a NATS subject pattern (`*` one token, `>` the rest). */
export function subjectMatches(subject: string, pattern: string): boolean {
  const s = subject.split('.');
  const p = pattern.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return s.length === p.length;
}
