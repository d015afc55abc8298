/**
 * The call runtime against a real nats-server (its records in KV, its hang-ups and timers on
 * JetStream), running a small scripted application: each event of a call reaches the flow as what
 * it means, in order; what the flow decides is carried out, and what that finds out comes back;
 * a failed action is reported, ignored or retried as its policy says; a call's end runs its last
 * actions and leaves nothing behind.
 *
 * Signaling and media are stand-ins here (`startPeers`): they answer the runtime's commands as the
 * real services do and note what they were asked. The real services run the same runtime in the
 * end-to-end tests (test/e2e/src/voicemail-calls.test.ts, voicebox-calls.test.ts, call-ends.test.ts).
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import {
  BUCKETS,
  CallApi,
  CORRELATION_HEADER,
  CallStartedEventSchema,
  encodeJson,
  MediaApi,
  openKv,
  publishCallEnded,
  request,
  serve,
  ServiceError,
  SignalingApi,
  STREAMS,
  SUBJECTS,
  type Application,
  type CallStartedEvent,
  type Recording,
} from '@sipvm/contracts';
import { sleep, startNats, waitFor, type NatsServer } from '@sipvm/harness';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { z } from 'zod';
import { CallBaseShape, type CallAction, type CallEvent } from './call.js';
import { recordingOf } from './actions/index.js';
import { startCallRuntime, type CallApplication, type CallRuntime, type FailurePolicy } from './runtime.js';

const log = pino({ level: 'silent' });

// ---------------------------------------------------------------------------------------------
// The scripted application

/** The application's own actions: a look-up whose answer comes back, and the hand-over at a call's end. */
type OwnAction = { kind: 'look-up'; question: string } | { kind: 'hand-over' };
type OwnEvent = { kind: 'looked-up'; answer: string };
type Action = OwnAction | CallAction;

/** The record keeps every event the flow was given, as `describe` puts it. */
const RecordSchema = z.object({ ...CallBaseShape, heard: z.array(z.string()) });
type Rec = z.infer<typeof RecordSchema>;

function describeEvent(event: CallEvent | OwnEvent): string {
  switch (event.kind) {
    case 'digit':
      return `digit ${event.digit}`;
    case 'playback-finished':
      return ['playback-finished', event.playbackId, event.reason ?? '-', ...(event.recordingStartedAt ? [event.recordingStartedAt] : [])].join(' ');
    case 'timeout':
      return `timeout ${event.timerId}`;
    case 'silence':
      return `silence speech=${String(event.speech)}`;
    case 'recorded':
      return `recorded ${event.recording?.audio.name ?? 'nothing'}`;
    case 'transfer':
      return `transfer ${event.outcome} ${event.status ?? '-'}`;
    case 'failed':
      return `failed ${event.action}`;
    case 'looked-up':
      return `looked-up ${event.answer}`;
    default:
      return event.kind;
  }
}

interface Script {
  /** What the flow does on an event (by its description; `started` for the call's start). */
  reactions?: Record<string, Action[]>;
  /** Events (by description) that leave the record as it was. */
  unchanged?: string[];
  /** The application leaves every call alone (its `start` says undefined). */
  declines?: boolean;
  lookUp?: (question: string) => Promise<string>;
  handOver?: () => Promise<void>;
  onFailure?: (action: Action, error: unknown) => FailurePolicy | undefined;
}

type Shape = 'core' | 'durable';

function scriptedApplication(script: Script, shape: Shape): CallApplication<Rec, OwnAction, OwnEvent> {
  const reactions = script.reactions ?? {};
  return {
    name: 'scripted',
    apps: shape === 'durable' ? ['voicemail'] : ['voicebox'],
    queue: 'scripted',
    bucket: shape === 'durable' ? BUCKETS.voicemailCalls : BUCKETS.voiceboxCalls,
    record: RecordSchema,
    ...(shape === 'durable'
      ? { durableEnds: { stream: 'voicemailCallEnds' as const, consumer: 'scripted-ends' } }
      : { timers: { stream: 'voiceboxTimers' as const, subject: SUBJECTS.voicebox.timer, consumer: 'scripted-timers' } }),
    async start(event) {
      if (script.declines) return undefined;
      const { callRef, callId, signalingInstance, mediaInstance, mediaNode } = event;
      return { record: { callRef, callId, signalingInstance, mediaInstance, mediaNode, heard: ['started'] }, actions: reactions.started ?? [] };
    },
    decide(record, event) {
      const said = describeEvent(event);
      return { record: script.unchanged?.includes(said) ? record : { ...record, heard: [...record.heard, said] }, actions: reactions[said] ?? [] };
    },
    actions: {
      'look-up': async (action) => [{ kind: 'looked-up', answer: await (script.lookUp ?? (async (q) => `answer to ${q}`))(action.question) }],
      'hand-over': async () => {
        await script.handOver?.();
        return [];
      },
    },
    ...(script.onFailure ? { onFailure: script.onFailure } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Signaling and media, as stand-ins

interface Command {
  to: string;
  request: Record<string, unknown>;
  /** The SIP Call-ID the command carried (for the logs of whoever answers). */
  callId: string | undefined;
}

interface PeerOptions {
  /** How long media takes to answer a play. */
  playDelayMs?: number;
  /** Media refuses every play. */
  failPlay?: boolean;
  /** Signaling cannot hang up (the call is gone already). */
  failHangup?: boolean;
  /** Whether the final reply went out (false: the call was answered after all). */
  finalReplySent?: boolean;
  transfer?: { outcome: 'transferred' | 'failed'; status?: number };
  /** The media instance that held the call is gone: only its node answers for the recording. */
  mediaInstanceGone?: boolean;
  /** The media instance answers a stop of the recording with an error. */
  failStopRecording?: boolean;
}

const recording = (name: string): Recording => ({ audio: { name, size: 16_044 }, startedAt: '2024-05-01T10:00:00.000Z', durationMs: 1_000, codec: 'PCMU' });

/** Stand-ins for signaling `sig-1` and media `media-1` (of node `node-1`): they answer and note each command. */
function startPeers(nc: NatsConnection, options: PeerOptions, commands: Command[]): Subscription[] {
  const note = (to: string, req: object, callId: string | undefined) => commands.push({ to, request: { ...req }, callId });
  return [
    serve(nc, SignalingApi.hangup('sig-1'), async (req, { callId }) => {
      note('hangup', req, callId);
      if (options.failHangup) throw new ServiceError('internal', 'the dialog is gone already');
      return { ended: true };
    }),
    serve(nc, SignalingApi.finalReply('sig-1'), async (req, { callId }) => {
      note('final-reply', req, callId);
      return { sent: options.finalReplySent ?? true };
    }),
    serve(nc, SignalingApi.transfer('sig-1'), async (req, { callId }) => {
      note('transfer', req, callId);
      return options.transfer ?? { outcome: 'failed' as const, status: 486 };
    }),
    serve(nc, MediaApi.play('media-1'), async (req, { callId }) => {
      note('play', req, callId);
      if (options.playDelayMs) await sleep(options.playDelayMs);
      if (options.failPlay) throw new ServiceError('internal', 'rtpengine refused to play');
      commands.push({ to: 'play answered', request: {}, callId });
      return { playbackId: req.playbackId, durationMs: 2_000 };
    }),
    serve(nc, MediaApi.stopPlayback('media-1'), async (req, { callId }) => {
      note('stop-playback', req, callId);
      return { stopped: true };
    }),
    serve(nc, MediaApi.startRecording('media-1'), async (req, { callId }) => {
      note('start-recording', req, callId);
      return { startedAt: new Date().toISOString() };
    }),
    ...(options.mediaInstanceGone
      ? []
      : [
          serve(nc, MediaApi.stopRecording('media-1'), async (req, { callId }) => {
            note('stop-recording', req, callId);
            if (options.failStopRecording) throw new ServiceError('internal', 'the pcap is unreadable');
            return { recording: req.discard ? null : recording('from-instance') };
          }),
        ]),
    serve(nc, MediaApi.stopRecordingOnNode('node-1'), async (req, { callId }) => {
      note('stop-recording on node', req, callId);
      return { recording: req.discard ? null : recording('from-node') };
    }),
  ];
}

// ---------------------------------------------------------------------------------------------
// A rig per test: its own nats-server, runtime and stand-ins

let n = 0;
const newCallRef = () => `call${process.pid}x${++n}`;

function startedEvent(callRef: string, app: Application): CallStartedEvent {
  return CallStartedEventSchema.parse({
    callRef,
    callId: `${callRef}@sip.test`,
    at: new Date().toISOString(),
    app,
    params: { user: '1001', domain: 'example.com', uid: '1001', did: 'example.com', sender: '', greetingType: 'unavailable' },
    signalingInstance: 'sig-1',
    mediaInstance: 'media-1',
    mediaNode: 'node-1',
    codec: 'PCMU',
    earlyMedia: false,
  });
}

interface Rig {
  nats: NatsServer;
  /** The runtime's connection. */
  nc: NatsConnection;
  /** Signaling's and media's side: the stand-ins answer on it and the call events come from it. */
  peer: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  registry: Registry;
  commands: Command[];
  app: Application;
  bucket: string;
  runtime: CallRuntime | undefined;
  startRuntime(script: Script): Promise<CallRuntime>;
  /** Offers a call as signaling does (a request, answered once the call is taken). */
  offer(callRef: string, app?: Application): Promise<unknown>;
  event(subject: (app: string) => string, callRef: string, fields: object): void;
  /** The call's record as stored (without the writer's mark), or null when there is none. */
  stored(callRef: string): Promise<Rec | null>;
  heard(callRef: string): Promise<string[] | undefined>;
}

async function rig(shape: Shape, peerOptions: PeerOptions = {}): Promise<Rig> {
  const nats = await startNats();
  const nc = await nats.connect();
  const peer = await nats.connect();
  const jsm = await jetstreamManager(nc);
  const commands: Command[] = [];
  startPeers(peer, peerOptions, commands);
  await peer.flush();
  const app: Application = shape === 'durable' ? 'voicemail' : 'voicebox';
  const bucket = shape === 'durable' ? BUCKETS.voicemailCalls : BUCKETS.voiceboxCalls;
  const self: Rig = {
    nats,
    nc,
    peer,
    js: jetstream(nc),
    jsm,
    registry: new Registry(),
    commands,
    app,
    bucket,
    runtime: undefined,
    async startRuntime(script) {
      self.registry = new Registry(); // one runtime's metrics: a second one registers them again
      self.runtime = await startCallRuntime({ nc, js: self.js, jsm, log, registry: self.registry, app: scriptedApplication(script, shape) });
      return self.runtime;
    },
    offer: (callRef, offered = app) => request(peer, CallApi.start(offered), startedEvent(callRef, offered)),
    event(subject, callRef, fields) {
      peer.publish(subject(app), encodeJson({ callRef, callId: `${callRef}@sip.test`, at: new Date().toISOString(), ...fields }));
    },
    async stored(callRef) {
      const message = await jsm.streams.getMessage(`KV_${bucket}`, { last_by_subj: `$KV.${bucket}.${callRef}` });
      if (!message) return null;
      const { writtenBy: _mark, ...fields } = message.json<Rec & { writtenBy?: string }>();
      return fields;
    },
    heard: async (callRef) => (await self.stored(callRef))?.heard,
  };
  return self;
}

const digit = (r: Rig, callRef: string, d: string) => r.event(SUBJECTS.call.digit, callRef, { digit: d, source: 'rfc4733' });

/** Waits until the call's record has heard `count` events, and gives them. */
async function heardAtLeast(r: Rig, callRef: string, count: number, what: string): Promise<string[]> {
  let heard: string[] | undefined;
  await waitFor(async () => ((heard = await r.heard(callRef)) ?? []).length >= count, 5_000, what);
  return heard ?? [];
}

const prompt = (name: string) => ({ kind: 'prompt' as const, name, language: 'en' });

/** A rig of its own for a test, taken down when the test ends. */
async function using(t: TestContext, shape: Shape, peerOptions?: PeerOptions): Promise<Rig> {
  const r = await rig(shape, peerOptions);
  t.after(async () => {
    await r.runtime?.stop();
    await r.peer.close();
    await r.nc.close();
    await r.nats.close();
  });
  return r;
}

// Each test has its own nats-server: they run side by side.
describe('call runtime', { concurrency: 4 }, () => {
  it('takes a call once: signaling hears it is taken before the first actions are done, and a start offered again finds it taken', async (t) => {
    const r = await using(t, 'core', { playDelayMs: 600 });
    await r.startRuntime({ reactions: { started: [{ kind: 'play', playbackId: 'welcome', items: [prompt('welcome')] }] } });
    const callRef = newCallRef();
    const taken = await r.offer(callRef);
    assert.deepEqual(taken, { taken: true });
    assert.ok(!r.commands.some((c) => c.to === 'play answered'), 'the caller is answered while the first prompt is still being started');
    await waitFor(() => r.commands.some((c) => c.to === 'play answered'), 5_000, 'the first prompt');
    assert.deepEqual(r.commands[0], {
      to: 'play',
      request: { callRef, playbackId: 'welcome', items: [prompt('welcome')], mode: 'replace' },
      callId: `${callRef}@sip.test`,
    });
    assert.deepEqual(await r.stored(callRef), {
      callRef,
      callId: `${callRef}@sip.test`,
      signalingInstance: 'sig-1',
      mediaInstance: 'media-1',
      mediaNode: 'node-1',
      heard: ['started'],
    });

    // Signaling asks again (its first answer was lost): taken, and nothing is done twice.
    assert.deepEqual(await r.offer(callRef), { taken: true });
    await sleep(200);
    assert.deepEqual(
      r.commands.map((c) => c.to),
      ['play', 'play answered'],
    );
    assert.deepEqual(await r.heard(callRef), ['started']);
    const started = (await r.registry.getSingleMetric('sipvm_calls_started_total')?.get())?.values;
    assert.deepEqual(
      started?.map((v) => [v.labels, v.value]),
      [[{ app: 'voicebox' }, 1]],
      'one call counted, under its application',
    );
    // A record whose end is never seen does not stay for ever: the bucket keeps records 4 hours.
    assert.equal((await r.jsm.streams.info(`KV_${r.bucket}`)).config.max_age, 4 * 3600 * 1e9);
  });

  it('a start offered again while the first actions still run is answered at once, not after them', async (t) => {
    // The first answer was lost (a NATS server left): signaling asks again within its 3 s, while
    // the call's first prompt is still being started (here for longer than signaling waits).
    const r = await using(t, 'core', { playDelayMs: 4_000 });
    await r.startRuntime({ reactions: { started: [{ kind: 'play', playbackId: 'welcome', items: [prompt('welcome')] }] } });
    const callRef = newCallRef();
    assert.deepEqual(await r.offer(callRef), { taken: true });
    await waitFor(() => r.commands.some((c) => c.to === 'play'), 2_000, 'the first prompt to be asked for');
    assert.deepEqual(await r.offer(callRef), { taken: true });
    assert.deepEqual(
      r.commands.map((c) => c.to),
      ['play'],
      'answered while the prompt is still being started, and nothing done twice',
    );
    await waitFor(() => r.commands.some((c) => c.to === 'play answered'), 6_000, 'the first prompt');
    assert.deepEqual(await r.heard(callRef), ['started']);
  });

  it('leaves alone a call its application declines, and a start that names another application', async (t) => {
    const r = await using(t, 'core');
    await r.startRuntime({ declines: true, reactions: { started: [{ kind: 'play', playbackId: 'welcome', items: [prompt('welcome')] }] } });
    const declined = newCallRef();
    await r.offer(declined);
    assert.equal(await r.stored(declined), null);
    await r.runtime?.stop();

    await r.startRuntime({ reactions: { started: [{ kind: 'play', playbackId: 'welcome', items: [prompt('welcome')] }] } });
    // Published where this runtime listens, but the call is the voicemail application's.
    const misdirected = newCallRef();
    await r.peer.request(SUBJECTS.call.started('voicebox'), encodeJson(startedEvent(misdirected, 'voicemail')), { timeout: 3_000 });
    assert.equal(await r.stored(misdirected), null);
    assert.deepEqual(r.commands, [], 'nothing was played to either');
    assert.equal((await r.registry.getSingleMetric('sipvm_calls_started_total')?.get())?.values.length, 0);
  });

  it('gives the flow each event of a call as what it means, in the order they came', async (t) => {
    const r = await using(t, 'core');
    await r.startRuntime({});
    const callRef = newCallRef();
    await r.offer(callRef);
    const at = '2024-05-01T10:00:03.000Z';
    digit(r, callRef, '5');
    r.event(SUBJECTS.call.playbackFinished, callRef, { playbackId: 'greeting', reason: 'completed', recordingStartedAt: at });
    r.event(SUBJECTS.call.playbackFinished, callRef, { playbackId: 'menu', reason: 'stopped' });
    r.event(SUBJECTS.call.recordingFinished, callRef, { reason: 'silence', speech: true });
    r.event(SUBJECTS.call.recordingFinished, callRef, { reason: 'silence', speech: false });
    r.event(SUBJECTS.call.recordingFinished, callRef, { reason: 'silence' });
    r.event(SUBJECTS.call.recordingFinished, callRef, { reason: 'max-duration' });
    digit(r, callRef, '#');
    assert.deepEqual(await heardAtLeast(r, callRef, 9, 'every event'), [
      'started',
      'digit 5',
      `playback-finished greeting completed ${at}`,
      'playback-finished menu stopped',
      'silence speech=true',
      'silence speech=false',
      'silence speech=false',
      'recording-limit',
      'digit #',
    ]);
  });

  it('ignores the events of a call it does not hold', async (t) => {
    const r = await using(t, 'core');
    await r.startRuntime({ reactions: { 'digit 1': [{ kind: 'hangup', reason: 'one' }] } });
    const callRef = newCallRef();
    digit(r, callRef, '1'); // before the call exists here: not a call of ours (yet)
    await r.offer(callRef); // events of one call are taken in order: the digit went first
    digit(r, callRef, '2');
    assert.deepEqual(await heardAtLeast(r, callRef, 2, 'the second digit'), ['started', 'digit 2']);
    assert.deepEqual(r.commands, []);
  });

  it('carries out what the flow decides, in order, and gives it back what the actions found out', async (t) => {
    const r = await using(t, 'core', { transfer: { outcome: 'failed', status: 486 } });
    const endOnSilence = { silenceMs: 3_000, thresholdDbfs: -50 };
    await r.startRuntime({
      reactions: {
        'digit 1': [
          { kind: 'play', playbackId: 'beep', items: [prompt('beep')], thenRecord: { maxDurationMs: 60_000, endOnSilence } },
          { kind: 'stop-playback' },
          { kind: 'start-recording', maxMs: 30_000, endOnSilence },
          { kind: 'start-recording', maxMs: 20_000 },
          { kind: 'stop-recording', discard: false },
          { kind: 'stop-recording', discard: true },
          { kind: 'transfer', target: 'sip:operator@example.com', method: 'refer' },
          { kind: 'look-up', question: 'weather' },
          { kind: 'hangup', reason: 'done' },
        ],
      },
    });
    const callRef = newCallRef();
    await r.offer(callRef);
    digit(r, callRef, '1');
    const heard = await heardAtLeast(r, callRef, 5, 'what the actions found out');
    assert.deepEqual(heard, ['started', 'digit 1', 'recorded from-instance', 'transfer failed 486', 'looked-up answer to weather']);
    assert.deepEqual(
      r.commands.filter((c) => c.to !== 'play answered').map(({ to, request }) => ({ to, request })),
      [
        { to: 'play', request: { callRef, playbackId: 'beep', items: [prompt('beep')], mode: 'replace', thenRecord: { maxDurationMs: 60_000, endOnSilence } } },
        { to: 'stop-playback', request: { callRef } },
        { to: 'start-recording', request: { callRef, maxDurationMs: 30_000, endOnSilence } },
        { to: 'start-recording', request: { callRef, maxDurationMs: 20_000 } },
        { to: 'stop-recording', request: { callRef, discard: false } },
        { to: 'stop-recording', request: { callRef, discard: true } },
        { to: 'transfer', request: { callRef, target: 'sip:operator@example.com', method: 'refer' } },
        { to: 'hangup', request: { callRef, reason: 'done' } },
      ],
    );
    assert.ok(
      r.commands.every((c) => c.callId === `${callRef}@sip.test`),
      'every command names its call, for the logs of whoever answers',
    );
  });

  it('a transfer that worked comes back as transferred', async (t) => {
    const r = await using(t, 'core', { transfer: { outcome: 'transferred' } });
    await r.startRuntime({ reactions: { 'digit 0': [{ kind: 'transfer', target: 'sip:operator@example.com', method: 'bridge' }] } });
    const callRef = newCallRef();
    await r.offer(callRef);
    digit(r, callRef, '0');
    assert.deepEqual(await heardAtLeast(r, callRef, 3, 'the transfer'), ['started', 'digit 0', 'transfer transferred -']);
  });

  for (const sent of [true, false]) {
    it(`after an early-media announcement sends the final reply${sent ? '' : ', and hangs up a call that was answered meanwhile'}`, async (t) => {
      const r = await using(t, 'core', { finalReplySent: sent });
      await r.startRuntime({ reactions: { 'playback-finished ann completed': [{ kind: 'final-reply', code: 480, reason: 'Temporarily Unavailable' }] } });
      const callRef = newCallRef();
      await r.offer(callRef);
      r.event(SUBJECTS.call.playbackFinished, callRef, { playbackId: 'ann', reason: 'completed' });
      await waitFor(() => r.commands.length >= (sent ? 1 : 2), 5_000, 'the final reply');
      await sleep(100);
      assert.deepEqual(
        r.commands.map(({ to, request }) => ({ to, request })),
        [
          { to: 'final-reply', request: { callRef, code: 480, reason: 'Temporarily Unavailable' } },
          ...(sent ? [] : [{ to: 'hangup', request: { callRef, reason: 'announcement played' } }]),
        ],
        sent ? 'the final reply went out' : 'answered after all: hung up instead',
      );
    });
  }

  it('has the recording delivered by the media node when the media instance of the call is gone', async (t) => {
    const r = await using(t, 'core', { mediaInstanceGone: true });
    await r.startRuntime({ reactions: { 'digit #': [{ kind: 'stop-recording', discard: false }] } });
    const callRef = newCallRef();
    await r.offer(callRef);
    digit(r, callRef, '#');
    assert.deepEqual(await heardAtLeast(r, callRef, 3, 'the recording'), ['started', 'digit #', 'recorded from-node']);
    assert.deepEqual(
      r.commands.map(({ to, request }) => ({ to, request })),
      [{ to: 'stop-recording on node', request: { callRef, discard: false } }],
    );
    // The hand-over asks for the recording the same way, and keeps it unless told to drop it.
    const context = { nc: r.nc, js: r.js, call: (await r.stored(callRef))!, log, timerSubject: undefined };
    assert.equal((await recordingOf(context))?.audio.name, 'from-node');
    assert.deepEqual(r.commands.at(-1)?.request, { callRef, discard: false });
  });

  it('a media instance that answers with an error is not bypassed: the flow is told the recording failed', async (t) => {
    const r = await using(t, 'core', { failStopRecording: true });
    await r.startRuntime({ reactions: { 'digit #': [{ kind: 'stop-recording', discard: false }] } });
    const callRef = newCallRef();
    await r.offer(callRef);
    digit(r, callRef, '#');
    assert.deepEqual(await heardAtLeast(r, callRef, 3, 'the failure'), ['started', 'digit #', 'failed stop-recording']);
    assert.deepEqual(
      r.commands.map((c) => c.to),
      ['stop-recording'],
    );
  });

  it('a failed action is reported to the flow and the actions after it are not carried out', async (t) => {
    const r = await using(t, 'core', { failPlay: true });
    await r.startRuntime({
      reactions: {
        'digit 1': [
          { kind: 'play', playbackId: 'menu', items: [prompt('menu')] },
          { kind: 'start-recording', maxMs: 10_000 },
        ],
        'failed play': [{ kind: 'hangup', reason: 'media failed' }],
      },
    });
    const callRef = newCallRef();
    await r.offer(callRef);
    digit(r, callRef, '1');
    assert.deepEqual(await heardAtLeast(r, callRef, 3, 'the failure'), ['started', 'digit 1', 'failed play']);
    await waitFor(() => r.commands.some((c) => c.to === 'hangup'), 5_000, 'the flow hanging up');
    assert.deepEqual(
      r.commands.map((c) => c.to),
      ['play', 'hangup'],
      'no recording after a prompt that never played',
    );
  });

  it('a hang-up or a discard that fails is ignored: the flow goes on', async (t) => {
    const r = await using(t, 'core', { failHangup: true, failStopRecording: true });
    await r.startRuntime({
      reactions: {
        'digit 1': [{ kind: 'hangup', reason: 'bye' }, { kind: 'stop-recording', discard: true }, { kind: 'stop-playback' }],
      },
    });
    const callRef = newCallRef();
    await r.offer(callRef);
    digit(r, callRef, '1');
    await waitFor(() => r.commands.some((c) => c.to === 'stop-playback'), 5_000, 'the last action');
    digit(r, callRef, '2');
    assert.deepEqual(await heardAtLeast(r, callRef, 3, 'the next digit'), ['started', 'digit 1', 'digit 2'], 'no failure reported');
    assert.deepEqual(
      r.commands.map((c) => c.to),
      ['hangup', 'stop-recording', 'stop-playback'],
    );
  });

  it("the application's own actions run with the call's record, their failures handled as it says", async (t) => {
    const r = await using(t, 'core');
    const asked: string[] = [];
    await r.startRuntime({
      reactions: {
        'digit 1': [
          { kind: 'look-up', question: 'broken' },
          { kind: 'look-up', question: 'weather' },
        ],
        'digit 2': [
          { kind: 'look-up', question: 'unknown' },
          { kind: 'look-up', question: 'never asked' },
        ],
      },
      async lookUp(question) {
        asked.push(question);
        if (question === 'broken' || question === 'unknown') throw new Error(`cannot look up ${question}`);
        return `answer to ${question}`;
      },
      onFailure: (action) => (action.kind === 'look-up' && action.question === 'broken' ? 'ignore' : undefined),
    });
    const callRef = newCallRef();
    await r.offer(callRef);
    digit(r, callRef, '1');
    assert.deepEqual(await heardAtLeast(r, callRef, 3, 'the answer'), ['started', 'digit 1', 'looked-up answer to weather']);
    digit(r, callRef, '2');
    assert.deepEqual(await heardAtLeast(r, callRef, 5, 'the failure'), ['started', 'digit 1', 'looked-up answer to weather', 'digit 2', 'failed look-up']);
    assert.deepEqual(asked, ['broken', 'weather', 'unknown']);
  });

  it('every kind of action the platform knows is carried out by the runtime, not handed to the application', async (t) => {
    const r = await using(t, 'core');
    const kinds: Action[] = [
      { kind: 'play', playbackId: 'p', items: [prompt('p')] },
      { kind: 'stop-playback' },
      { kind: 'arm-timer', timerId: 1, ms: 60_000 },
      { kind: 'hangup', reason: 'h' },
      { kind: 'final-reply', code: 486, reason: 'Busy Here' },
      { kind: 'start-recording', maxMs: 1_000 },
      { kind: 'stop-recording', discard: true },
      { kind: 'transfer', target: 'sip:operator@example.com', method: 'refer' },
    ];
    await r.startRuntime({ reactions: Object.fromEntries(kinds.map((action, i) => [`digit ${i}`, [action]])) });
    const callRef = newCallRef();
    await r.offer(callRef);
    for (let i = 0; i < kinds.length; i++) digit(r, callRef, String(i));
    const heard = await heardAtLeast(r, callRef, 10, 'every digit');
    await sleep(200);
    assert.deepEqual(
      (await r.heard(callRef))?.filter((e) => e.startsWith('failed')),
      [],
      `no action failed: ${heard.join(', ')}`,
    );
    assert.equal((await r.jsm.streams.info(STREAMS.voiceboxTimers.name)).state.messages, 1, 'the timer is armed');
    assert.deepEqual(
      r.commands.filter((c) => c.to !== 'play answered').map((c) => c.to),
      ['play', 'stop-playback', 'hangup', 'final-reply', 'start-recording', 'stop-recording', 'transfer'],
    );
  });

  it('an event that changes only the record stores it; one that changes nothing writes nothing', async (t) => {
    const r = await using(t, 'core');
    await r.startRuntime({ unchanged: ['digit 9', 'digit 8'], reactions: { 'digit 8': [{ kind: 'stop-playback' }] } });
    const callRef = newCallRef();
    await r.offer(callRef);
    digit(r, callRef, '1');
    await heardAtLeast(r, callRef, 2, 'the first digit');
    const revision = async () => (await r.jsm.streams.getMessage(`KV_${r.bucket}`, { last_by_subj: `$KV.${r.bucket}.${callRef}` }))?.seq;
    const before = await revision();
    digit(r, callRef, '9');
    digit(r, callRef, '8');
    await waitFor(() => r.commands.some((c) => c.to === 'stop-playback'), 5_000, 'the action of a digit that leaves the record as it was');
    digit(r, callRef, '2');
    assert.deepEqual(await heardAtLeast(r, callRef, 3, 'the last digit'), ['started', 'digit 1', 'digit 2']);
    assert.equal(before! + 1, await revision(), 'one write: the last digit');
  });

  it('decides on what another instance wrote meanwhile, not on what this one saw last', async (t) => {
    const r = await using(t, 'core');
    await r.startRuntime({ reactions: { 'digit 5': [{ kind: 'stop-playback' }] } });
    const callRef = newCallRef();
    await r.offer(callRef);
    digit(r, callRef, '1');
    await heardAtLeast(r, callRef, 2, 'the first digit');
    // Another instance took an event of the call: it wrote the record after this instance did.
    const kv = await openKv(r.peer, BUCKETS.voiceboxCalls, { ttl: 4 * 3600 * 1000 });
    const entry = await kv.get(callRef);
    const theirs = { ...(await r.stored(callRef))!, heard: ['started', 'digit 1', 'elsewhere'] };
    await kv.update(callRef, encodeJson(theirs), entry!.revision);
    digit(r, callRef, '5');
    assert.deepEqual(await heardAtLeast(r, callRef, 4, 'the digit'), ['started', 'digit 1', 'elsewhere', 'digit 5']);
    await waitFor(() => r.commands.some((c) => c.to === 'stop-playback'), 5_000, "the digit's action");
    assert.deepEqual(
      r.commands.map((c) => c.to),
      ['stop-playback'],
      'carried out once',
    );
  });

  it("a call's end runs its last actions and leaves nothing behind; what they find out is for nobody", async (t) => {
    const r = await using(t, 'core');
    await r.startRuntime({
      reactions: {
        ended: [{ kind: 'stop-recording', discard: false }],
        'recorded from-instance': [{ kind: 'play', playbackId: 'late', items: [prompt('late')] }],
      },
    });
    const callRef = newCallRef();
    await r.offer(callRef);
    digit(r, callRef, '1');
    await heardAtLeast(r, callRef, 2, 'the digit');
    // Media is told it may erase the call's recordings once the record is gone (a send: no reply).
    const released: { request: unknown; callId: string | undefined }[] = [];
    r.peer.subscribe(MediaApi.releaseRecording('node-1').subject, {
      callback: (_error, msg) => void released.push({ request: msg.json(), callId: msg.headers?.get(CORRELATION_HEADER) }),
    });
    await r.peer.flush();
    r.event(SUBJECTS.call.ended, callRef, { reason: 'caller-hangup' });
    await waitFor(async () => (await r.stored(callRef)) === null, 5_000, 'the record to go');
    await waitFor(() => released.length > 0, 5_000, 'the release of its recordings');
    await sleep(200);
    assert.deepEqual(
      r.commands.map((c) => c.to),
      ['stop-recording'],
      'the recording stopped, and nothing played into a call that is over',
    );
    assert.deepEqual(released, [{ request: { callRef }, callId: `${callRef}@sip.test` }], 'released once, to the media node of the call');
    // Nothing is kept: not even a delete marker.
    assert.equal((await r.jsm.streams.info(`KV_${r.bucket}`)).state.messages, 0);
    digit(r, callRef, '2');
    await sleep(200);
    assert.equal(await r.stored(callRef), null, 'an event after the end finds no call');
  });

  it("refuses an application that declares one of the runtime's own actions as its own", async (t) => {
    const r = await using(t, 'core');
    const app = scriptedApplication({}, 'core');
    const shadowing = { ...app, actions: { ...app.actions, play: async () => [], 'stop-recording': async () => [] } };
    await assert.rejects(
      startCallRuntime({ nc: r.nc, js: r.js, jsm: r.jsm, log, registry: new Registry(), app: shadowing }),
      /^Error: scripted: its actions play, stop-recording are the runtime's own$/,
    );
  });

  it('times out on JetStream: a timer fires when it is due, not before', async (t) => {
    const r = await using(t, 'core');
    await r.startRuntime({ reactions: { 'digit 1': [{ kind: 'arm-timer', timerId: 7, ms: 800 }] } });
    const callRef = newCallRef();
    await r.offer(callRef);
    const armed = Date.now();
    digit(r, callRef, '1');
    assert.deepEqual(await heardAtLeast(r, callRef, 3, 'the timeout'), ['started', 'digit 1', 'timeout 7']);
    const elapsed = Date.now() - armed;
    assert.ok(elapsed >= 800, `fired after ${elapsed} ms`);
    assert.ok(elapsed < 3_000, `fired after ${elapsed} ms`);
    await waitFor(async () => (await r.jsm.streams.info(STREAMS.voiceboxTimers.name)).state.messages === 0, 5_000, 'the timer acknowledged');
  });

  it('an application without timers is told its timer could not be armed', async (t) => {
    const r = await using(t, 'durable');
    await r.startRuntime({ reactions: { 'digit 1': [{ kind: 'arm-timer', timerId: 1, ms: 1_000 }] } });
    const callRef = newCallRef();
    await r.offer(callRef);
    digit(r, callRef, '1');
    assert.deepEqual(await heardAtLeast(r, callRef, 3, 'the failure'), ['started', 'digit 1', 'failed arm-timer']);
  });

  it('stops taking events when stopped', async (t) => {
    const r = await using(t, 'core');
    const runtime = await r.startRuntime({});
    const callRef = newCallRef();
    await r.offer(callRef);
    await runtime.stop();
    r.runtime = undefined;
    digit(r, callRef, '1');
    await sleep(300);
    assert.deepEqual(await r.heard(callRef), ['started']);
  });

  describe('hang-ups from a stream (voicemail)', { concurrency: 3 }, () => {
    it('needs exactly one application', async (t) => {
      const r = await using(t, 'durable');
      const app = { ...scriptedApplication({}, 'durable'), apps: ['voicemail', 'voicebox'] as Application[] };
      await assert.rejects(
        startCallRuntime({ nc: r.nc, js: r.js, jsm: r.jsm, log, registry: r.registry, app }),
        /scripted: durable hang-ups need exactly one application/,
      );
    });

    it('a hand-over that fails is tried again a second later, until it works; then the call is gone', async (t) => {
      const r = await using(t, 'durable');
      const attempts: number[] = [];
      await r.startRuntime({
        reactions: { ended: [{ kind: 'hand-over' }] },
        async handOver() {
          attempts.push(Date.now());
          if (attempts.length === 1) throw new Error('storage is down');
        },
        onFailure: (action) => (action.kind === 'hand-over' ? 'retry' : undefined),
      });
      const callRef = newCallRef();
      await r.offer(callRef);
      await publishCallEnded(r.peer, 'voicemail', { callRef, callId: `${callRef}@sip.test`, at: new Date().toISOString(), reason: 'caller-hangup' });
      await waitFor(async () => (await r.stored(callRef)) === null, 10_000, 'the call to be handed over');
      assert.equal(attempts.length, 2);
      const wait = attempts[1]! - attempts[0]!;
      assert.ok(wait >= 900 && wait < 5_000, `tried again after ${wait} ms`);
      await waitFor(async () => (await r.jsm.streams.info(STREAMS.voicemailCallEnds.name)).state.messages === 0, 5_000, 'the end acknowledged');
    });

    it('a hang-up that arrives while no instance runs is taken by the next one', async (t) => {
      const r = await using(t, 'durable');
      const handedOver: string[] = [];
      const script: Script = { reactions: { ended: [{ kind: 'hand-over' }] }, handOver: async () => void handedOver.push('done') };
      await r.startRuntime(script);
      const callRef = newCallRef();
      await r.offer(callRef);
      await r.runtime?.stop();
      r.runtime = undefined;
      await publishCallEnded(r.peer, 'voicemail', { callRef, callId: `${callRef}@sip.test`, at: new Date().toISOString(), reason: 'caller-hangup' });
      await sleep(300);
      assert.deepEqual(handedOver, [], 'a stopped runtime takes no hang-up');
      assert.deepEqual(await r.heard(callRef), ['started']);
      await r.startRuntime(script);
      await waitFor(async () => (await r.stored(callRef)) === null, 5_000, 'the call to be handed over');
      assert.deepEqual(handedOver, ['done']);
    });
  });
});
