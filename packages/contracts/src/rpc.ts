/**
 * Typed request/reply over core NATS.
 *
 * An endpoint is declared once (subject + request schema + result schema + default timeout).
 * What travels is validated once, where it is received: `serve()` validates the request, answers
 * with the one error envelope, and never lets a bad message take the service down; `request()`
 * validates the reply. Neither side checks what it sends as well (zod took 6 to 16 % of each
 * service's CPU under load, a third of it on such second checks: BENCHMARKS.md, profiles).
 */
import { z } from 'zod';
import { headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import { describeIssues, ErrorBodySchema, ServiceError, toServiceError } from './errors.js';
import { Answer, RecentAnswers } from './recent-answers.js';
import { ask, firstReplyOf } from './replies.js';

export { repeatedRequests } from './replies.js';
import { inSpan, traceOf, withTraceHeaders } from './tracing.js';

export interface Endpoint<Req extends z.ZodType = z.ZodType, Res extends z.ZodType = z.ZodType> {
  readonly subject: string;
  readonly request: Req;
  readonly result: Res;
  /** How long a caller waits by default before `service-unavailable`. */
  readonly timeoutMs: number;
  /**
   * Asked again after this long without an answer, then after twice as long each time, until
   * `timeoutMs` (replies.ts): a request or a reply lost while a NATS server hands its clients to
   * the others costs this delay, not the call.
   * Only where asking twice does the work once: `serve` answers a repeat of a request it has seen
   * with the first answer, so a repeat is safe when the same instance gets it (an instance's own
   * endpoint) or when the request changes nothing (a read). Undefined: asked once.
   */
  readonly repeatAfterMs?: number;
}

/**
 * The pause before a request is asked again. Every endpoint that may be repeated answers within
 * milliseconds (rtpengine's commands, a dialog's command, a read): a caller that waited this long
 * has most likely lost the request, and a repeat of one still running only waits for its answer.
 */
export const REPEAT_AFTER_MS = 2_000;

/** Whether a request may be asked again when no answer came: see `Endpoint.repeatAfterMs`. */
export type Repeat = 'repeat' | 'once';

export function endpoint<Req extends z.ZodType, Res extends z.ZodType>(
  subject: string,
  request: Req,
  result: Res,
  timeoutMs = 5_000,
  repeat: Repeat = 'once',
): Endpoint<Req, Res> {
  return { subject, request, result, timeoutMs, ...(repeat === 'repeat' ? { repeatAfterMs: REPEAT_AFTER_MS } : {}) };
}

/**
 * An endpoint served by one named instance (the one holding a call's dialog or rtpengine
 * session), or by the instances of one media node: `api(name)` gives its endpoint. The schemas
 * are built once, here, not per call. Asked again when no answer came, unless `once` (a request
 * a queue group shares, which another instance would take again as new work).
 */
export function instanceEndpoint<Req extends z.ZodType, Res extends z.ZodType>(
  subject: (instance: string) => string,
  request: Req,
  result: Res,
  timeoutMs?: number,
  repeat: Repeat = 'repeat',
): (instance: string) => Endpoint<Req, Res> {
  return (instance) => endpoint(subject(instance), request, result, timeoutMs, repeat);
}

export type RequestOf<E extends Endpoint> = z.input<E['request']>;
export type ParsedRequestOf<E extends Endpoint> = z.output<E['request']>;
export type ResultOf<E extends Endpoint> = z.output<E['result']>;

/** Header that carries the SIP Call-ID (or any correlation id) so every service can log it. */
export const CORRELATION_HEADER = 'Vm-Call-Id';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Parses JSON and validates it; any failure is a `bad-request` naming what was wrong. */
export function decodeJson<S extends z.ZodType>(schema: S, data: Uint8Array, what: string): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(data));
  } catch {
    throw new ServiceError('bad-request', `${what}: payload is not valid JSON`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new ServiceError('bad-request', `${what}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

export interface RequestOptions {
  timeoutMs?: number;
  /** Correlation id propagated in a header, for logs. */
  callId?: string;
}

/**
 * Sends a request and returns the validated result, or throws a ServiceError: `bad-request` from
 * the service when it refused the payload, `service-unavailable` when no answer came (nobody
 * serves it, it did not answer in time, or the connection to NATS was closed).
 */
export async function request<E extends Endpoint>(nc: NatsConnection, ep: E, payload: RequestOf<E>, options: RequestOptions = {}): Promise<ResultOf<E>> {
  const timeoutMs = options.timeoutMs ?? ep.timeoutMs;
  const msg = await ask(nc, ep.subject, encodeJson(payload), withTraceHeaders(correlationHeaders(options.callId)), timeoutMs, ep.repeatAfterMs);
  return decodeReply(ep, msg.data);
}

/**
 * Sends a request nobody waits for (no reply subject): for what may be lost at a known, small
 * cost, where a round trip per call would cost more than the loss. Checked here, as nobody could
 * tell the sender that the receiver refused it: a `bad-request` naming what was wrong.
 */
export function send<E extends Endpoint>(nc: NatsConnection, ep: E, payload: RequestOf<E>, options: Pick<RequestOptions, 'callId'> = {}): void {
  const checked = ep.request.safeParse(payload);
  if (!checked.success) throw new ServiceError('bad-request', `${ep.subject}: ${describeIssues(checked.error)}`);
  const headers = withTraceHeaders(correlationHeaders(options.callId));
  nc.publish(ep.subject, encodeJson(checked.data), headers ? { headers } : undefined);
}

function correlationHeaders(callId: string | undefined): MsgHdrs | undefined {
  if (callId === undefined) return undefined;
  const h = natsHeaders();
  h.set(CORRELATION_HEADER, callId);
  return h;
}

/** The reply schema of each result schema, built once: building a zod schema is not cheap. */
const envelopes = new WeakMap<z.ZodType, z.ZodType>();
function replyEnvelope(result: z.ZodType) {
  let envelope = envelopes.get(result);
  if (!envelope) {
    envelope = z.discriminatedUnion('ok', [z.strictObject({ ok: z.literal(true), result }), z.strictObject({ ok: z.literal(false), error: ErrorBodySchema })]);
    envelopes.set(result, envelope);
  }
  return envelope as z.ZodType<{ ok: true; result: unknown } | { ok: false; error: z.infer<typeof ErrorBodySchema> }>;
}

function decodeReply<E extends Endpoint>(ep: E, data: Uint8Array): ResultOf<E> {
  let envelope;
  try {
    envelope = decodeJson(replyEnvelope(ep.result), data, `reply from ${ep.subject}`);
  } catch (error) {
    // A malformed reply is the answering service's bug, not the caller's bad request.
    throw new ServiceError('internal', toServiceError(error).message);
  }
  if (!envelope.ok) throw new ServiceError(envelope.error.kind, envelope.error.message);
  return envelope.result as ResultOf<E>;
}

export interface ServeContext {
  readonly subject: string;
  readonly callId: string | undefined;
  readonly headers: MsgHdrs | undefined;
}

export interface ServeOptions {
  /** Queue group: instances of one service share the work. */
  queue?: string;
  /** Called for every failed request (bad input included) so the service can log and count it. */
  onError?: (error: ServiceError, context: ServeContext) => void;
  /** Called for every answered request with its outcome and duration, for metrics. */
  onDone?: (outcome: 'ok' | ServiceError['kind'], seconds: number, context: ServeContext) => void;
}

export type Handler<E extends Endpoint> = (req: ParsedRequestOf<E>, context: ServeContext) => Promise<ResultOf<E>>;

/**
 * Serves an endpoint: each message is handled concurrently and always answered. A request of an
 * endpoint that may be asked again is recognised when it is (its reply subject is the first one's
 * with a repeat's number, replies.ts): its work is done once and answered to the copy that came
 * first; a copy that comes after the answer went (it was lost) is answered on its own reply
 * subject. Never twice on one: NATS's `allow_responses` permits one answer per subject received.
 */
export function serve<E extends Endpoint>(nc: NatsConnection, ep: E, handler: Handler<E>, options: ServeOptions = {}): Subscription {
  const answered = ep.repeatAfterMs !== undefined ? new RecentAnswers(ep.timeoutMs) : undefined;
  return nc.subscribe(ep.subject, {
    ...(options.queue !== undefined ? { queue: options.queue } : {}),
    callback: (subError, msg) => {
      if (subError) return; // the subscription itself failed (permissions); nothing to answer
      if (!answered || !msg.reply) {
        void answer(ep, msg, handler, options);
        return;
      }
      const first = firstReplyOf(msg.reply);
      const earlier = answered.get(first);
      if (earlier) {
        earlier.copy(msg);
        return;
      }
      const held = new Answer(msg);
      answered.add(first, held);
      void work(ep, msg, handler, options).then((body) => held.send(body));
    },
  });
}

/**
 * Answers a request received outside `serve` (a subscription that keeps its own order): the
 * result, or the error envelope. Nothing to do for a message sent without a reply subject.
 */
export function respond<E extends Endpoint>(msg: Msg, ep: E, outcome: { result: ResultOf<E> } | { error: unknown }): void {
  if (!msg.reply) return;
  const reply = 'result' in outcome ? { ok: true, result: outcome.result } : { ok: false, error: toServiceError(outcome.error).toBody() };
  msg.respond(encodeJson(reply));
}

/** Handles a request and answers it, if it has a reply subject. */
async function answer<E extends Endpoint>(ep: E, msg: Msg, handler: Handler<E>, options: ServeOptions): Promise<void> {
  const body = await work(ep, msg, handler, options);
  if (msg.reply) msg.respond(body);
}

/** Handles a request: the answer to send, the result or the error envelope. Never rejects. */
async function work<E extends Endpoint>(ep: E, msg: Msg, handler: Handler<E>, options: ServeOptions): Promise<Uint8Array> {
  const started = process.hrtime.bigint();
  const context: ServeContext = { subject: msg.subject, callId: msg.headers?.get(CORRELATION_HEADER) || undefined, headers: msg.headers };
  let reply: unknown;
  let outcome: 'ok' | ServiceError['kind'] = 'ok';
  try {
    const req = decodeJson(ep.request, msg.data, ep.subject) as ParsedRequestOf<E>;
    const result = await inSpan(ep.subject, traceOf(msg.headers), { 'sipvm.call_id': context.callId }, () => handler(req, context));
    reply = { ok: true, result };
  } catch (error) {
    const failure = toServiceError(error);
    outcome = failure.kind;
    options.onError?.(failure, context);
    reply = { ok: false, error: failure.toBody() };
  }
  options.onDone?.(outcome, Number(process.hrtime.bigint() - started) / 1e9, context);
  return encodeJson(reply);
}
