/**
 * Per-call tracing across services (OpenTelemetry), carried in NATS headers: a request, an event
 * or a JetStream message takes the trace it was sent in (W3C `traceparent`), and what it is
 * handled in becomes a span of that trace, so one call can be followed from its INVITE to its
 * stored message. Off unless a service starts a tracer (the service kit's tracing.ts, when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set): then nothing here adds a header or a span.
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core';

let enabled = false;

/** Said by the service kit once a tracer exports spans. */
export function setTracingEnabled(on: boolean): void {
  enabled = on;
}

export function tracingEnabled(): boolean {
  return enabled;
}

const setter = { set: (carrier: MsgHdrs, key: string, value: string) => carrier.set(key, value) };
const getter = {
  get: (carrier: MsgHdrs, key: string) => carrier.get(key) || undefined,
  keys: (carrier: MsgHdrs) => carrier.keys(),
};

/** `headers` (or new ones when needed) with the current trace written in; undefined when there is nothing to write. */
export function withTraceHeaders(headers: MsgHdrs | undefined): MsgHdrs | undefined {
  if (!enabled || !trace.getSpan(context.active())) return headers;
  const carrier = headers ?? natsHeaders();
  propagation.inject(context.active(), carrier, setter);
  return carrier;
}

/**
 * The trace a message was sent in; undefined when it carries none (then it starts no span: only
 * calls are traced, not the platform's own polls; a call's timers carry its trace).
 */
export function traceOf(headers: MsgHdrs | undefined): Context | undefined {
  if (!enabled || !headers?.get('traceparent')) return undefined;
  return propagation.extract(ROOT_CONTEXT, headers, getter);
}

/** The current trace, to carry on to what is sent later (a call's events); undefined without tracing. */
export function currentTrace(): Context | undefined {
  return enabled && trace.getSpan(context.active()) ? context.active() : undefined;
}

/** Runs `work` in `traced` (as `currentTrace` took it), so that what it sends carries that trace. */
export function inTrace<T>(traced: Context | undefined, work: () => T): T {
  return traced ? context.with(traced, work) : work();
}

/** Publish options that carry the current trace (undefined without one). */
export function tracedPublish(): { headers: MsgHdrs } | undefined {
  const headers = withTraceHeaders(undefined);
  return headers ? { headers } : undefined;
}

/**
 * Runs `work` in a span named `name`, child of `parent` (a message's trace), ended when the work
 * is, its error recorded. Without tracing, or without a trace to join, just runs `work`.
 */
export async function inSpan<T>(
  name: string,
  parent: Context | undefined,
  attributes: Record<string, string | number | boolean | undefined>,
  work: (span: Span | undefined) => Promise<T>,
  kind: SpanKind = SpanKind.SERVER,
): Promise<T> {
  if (!enabled || !parent) return work(undefined);
  const span = trace.getTracer('sipvm').startSpan(name, { kind, attributes: definedOnly(attributes) }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => work(span));
  } catch (error) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    throw error;
  } finally {
    span.end();
  }
}

/** A span that outlives the function that starts it (a call, from INVITE to hang-up); undefined without tracing. */
export function startSpan(name: string, attributes: Record<string, string | number | boolean | undefined>, kind: SpanKind = SpanKind.SERVER): Span | undefined {
  if (!enabled) return undefined;
  return trace.getTracer('sipvm').startSpan(name, { kind, attributes: definedOnly(attributes) });
}

/** Runs `work` with `span` as the current span (so what it sends carries its trace). */
export function withinSpan<T>(span: Span | undefined, work: () => T): T {
  return span ? context.with(trace.setSpan(context.active(), span), work) : work();
}

function definedOnly(attributes: Record<string, string | number | boolean | undefined>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(attributes)) if (value !== undefined) out[key] = value;
  return out;
}

export { SpanKind };
/** A span of a call's trace, for those that hold one (signaling's call). */
export type TraceSpan = Span;
/** A call's trace as `currentTrace` took it, for those that carry it on (media's sessions). */
export type TraceContext = Context;
