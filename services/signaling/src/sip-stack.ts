/**
 * The one module that touches drachtio-srf: the connection to drachtio-server (reconnecting
 * forever, feeding readiness) and typed wrappers where the package's own types are wrong or loose
 * (`srf.request`, responses with a reason phrase, parsed headers). Everything else imports from here.
 */
import { format } from 'node:util';
import Srf from 'drachtio-srf';
import type { Logger } from '@sipvm/service';

export type SipRequest = Srf.SrfRequest & { canceled?: boolean };
export type SipResponse = Srf.SrfResponse;
export type SipDialog = Srf.Dialog;
export type { Srf };

export interface SipStack {
  readonly srf: Srf;
  /** True while drachtio-server is connected and has accepted our secret. */
  connected(): boolean;
  close(): void;
}

/**
 * The transports of drachtio-server's SIP contacts, from what it says when it connects
 * (`tcp/10.0.0.1:5060,udp/10.0.0.1:5060,tls/10.0.0.1:5061`), lower case.
 */
export function transportsOf(hostPort: string): Set<string> {
  return new Set(
    hostPort
      .split(',')
      .map((contact) => contact.trim().split('/')[0]?.toLowerCase() ?? '')
      .filter(Boolean),
  );
}

/** The transport a request to this SIP URI leaves on: its `transport` parameter, TLS for `sips:`, else UDP (RFC 3263 without DNS). */
export function transportOfUri(uri: string): string {
  const param = /;transport=([A-Za-z]+)/i.exec(uri)?.[1];
  if (param) return param.toLowerCase();
  return /^sips:/i.test(uri) ? 'tls' : 'udp';
}

export function connectDrachtio(options: {
  host: string;
  port: number;
  secret: string;
  log: Logger;
  /** Told the transports drachtio-server has, each time it connects. */
  onConnect?: (transports: Set<string>) => void;
}): SipStack {
  consoleIntoLog(options.log);
  const srf = new Srf();
  let up = false;
  // The package's types promise a Promise; it returns none and reports through the events below.
  void srf.connect({
    host: options.host,
    port: options.port,
    secret: options.secret,
    // Reconnect forever, at most every 2 s (the package's default backoff grows without bound).
    reconnect: { retryMaxDelay: 2_000 },
  } as Srf.SrfConfig);
  srf.on('connect', (error: Error | null | undefined, hostPort: string) => {
    if (error) {
      options.log.error({ err: String(error) }, 'drachtio-server refused the connection');
      return;
    }
    up = true;
    options.log.info({ drachtio: `${options.host}:${options.port}`, sip: hostPort }, 'drachtio-server connected');
    options.onConnect?.(transportsOf(hostPort));
  });
  srf.on('error', (error: Error) => {
    if (up) options.log.warn({ err: error.message }, 'drachtio-server connection error');
    else options.log.debug({ err: error.message }, 'drachtio-server not reachable yet');
  });
  // 'close' is not in the package's event types, but it is emitted (lib/srf.js).
  (srf as unknown as NodeJSEmitter).on('close', () => {
    if (up) options.log.warn('drachtio-server disconnected; reconnecting');
    up = false;
  });
  return {
    srf,
    connected: () => up,
    close: () => {
      up = false;
      srf.disconnect();
    },
  };
}

/**
 * drachtio-srf writes to the console where it gives up: a message it cannot parse (dropped, with
 * the whole message), a middleware error. Those lines join the JSON log, with any SIP message cut
 * to its first line: headers and bodies — P-App-Param with its PIN — never reach a log.
 */
export function consoleIntoLog(log: Logger): void {
  const write =
    (level: 'error' | 'warn' | 'info') =>
    (...args: unknown[]) =>
      log[level]({ from: 'drachtio-srf' }, withoutSipMessages(format(...args)));
  console.error = write('error');
  console.warn = write('warn');
  console.log = write('info');
  console.info = write('info');
}

/**
 * Text with every SIP message in it reduced to its start line. A message drachtio-srf could not
 * parse may have a mangled start line (a form feed in the Request-URI, no `SIP/2.0`); its lines
 * still end in CRLF, where log text and stack traces end in LF: nothing from the first CRLF on is kept.
 */
export function withoutSipMessages(text: string): string {
  const startLine = /(\b[A-Za-z]+ [^\r\n]*?SIP\/2\.0|SIP\/2\.0 \d{3}[^\r\n]*)[\s\S]*$/;
  let kept = text.replace(startLine, '$1');
  const crlf = kept.indexOf('\r\n');
  if (crlf !== -1) kept = kept.slice(0, crlf);
  return kept === text ? text : `${kept} … [rest of the SIP message not logged]`;
}

interface NodeJSEmitter {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}

export interface OutgoingRequest {
  method: 'NOTIFY' | 'OPTIONS';
  headers: Record<string, string>;
  body?: string;
  /** Send via this proxy (a SIP URI) instead of resolving the Request-URI. */
  proxy?: string;
}

export interface FinalResponse {
  status: number;
  reason: string;
}

/**
 * Sends a request outside any dialog drachtio knows and resolves with its final response.
 * The response listener is attached inside the send callback: on loopback the response can
 * arrive in the same read as drachtio's acknowledgement, before an `await` would resume.
 */
export function sendRequest(srf: Srf, uri: string, request: OutgoingRequest, timeoutMs = 32_000): Promise<FinalResponse> {
  const send = srf.request as unknown as (uri: string, opts: Record<string, unknown>, callback: (error: unknown, sent: SentRequest) => void) => void;
  return new Promise<FinalResponse>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no final response to ${request.method} within ${timeoutMs} ms`)), timeoutMs);
    const options = {
      method: request.method,
      headers: request.headers,
      ...(request.body !== undefined ? { body: request.body } : {}),
      ...(request.proxy !== undefined ? { proxy: request.proxy } : {}),
    };
    send.call(srf, uri, options, (error, sent) => {
      if (error) {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      sent.on('response', (res) => {
        if (res.status < 200) return;
        clearTimeout(timer);
        resolve({ status: res.status, reason: res.reason });
      });
    });
  });
}

interface SentRequest {
  on(event: 'response', listener: (res: { status: number; reason: string }) => void): void;
  get(name: string): string | undefined;
}

/** drachtio-server does not hold the dialog (restarted, or another node's). */
export class NoSuchDialogError extends Error {}

/**
 * Sends a request in a dialog drachtio-server holds though no drachtio-srf Dialog object stands
 * for it (a SUBSCRIBE dialog answered with `res.send`): drachtio-server builds it from the dialog
 * — Route headers from the route set, Request-URI, tags, its own CSeq (RFC 3261 §12.2.1.1). A
 * request outside a dialog cannot carry a Route header: drachtio-server drops it. Resolves with
 * the final response and the CSeq the request went out with.
 */
export function requestInStackDialog(
  srf: Srf,
  dialogId: string,
  target: string,
  request: { method: 'NOTIFY'; headers: Record<string, string>; body?: string },
  timeoutMs = 32_000,
): Promise<FinalResponse & { cseq: number | undefined }> {
  const send = srf.request as unknown as (uri: string, opts: Record<string, unknown>, callback: (error: unknown, sent: SentRequest) => void) => void;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no final response to ${request.method} within ${timeoutMs} ms`)), timeoutMs);
    const options = {
      method: request.method,
      stackDialogId: dialogId,
      headers: request.headers,
      ...(request.body !== undefined ? { body: request.body } : {}),
    };
    send.call(srf, target, options, (error, sent) => {
      if (error) {
        clearTimeout(timer);
        const { code } = error as { code?: unknown };
        const message = error instanceof Error ? error.message : String(error);
        reject(code === 'ENODIALOG' || /unable to find dialog/i.test(message) ? new NoSuchDialogError(message) : new Error(message));
        return;
      }
      const cseq = Number.parseInt(sent.get('CSeq') ?? '', 10);
      sent.on('response', (res) => {
        if (res.status < 200) return;
        clearTimeout(timer);
        resolve({ status: res.status, reason: res.reason, cseq: Number.isNaN(cseq) ? undefined : cseq });
      });
    });
  });
}

/** The Content-Type of an SDP body. */
export const SDP_TYPE = 'application/sdp';

/** Sends a final (or provisional) response with a reason phrase and headers. */
export function reply(res: SipResponse, status: number, reason: string, headers: Record<string, string> = {}, body?: string): void {
  if (res.finalResponseSent) return;
  res.send(status, reason, { headers, ...(body !== undefined ? { body } : {}) });
}

/** A header's value, or undefined when absent or empty. */
export function header(msg: Srf.SipMessage, name: string): string | undefined {
  if (!msg.has(name)) return undefined;
  const value = msg.get(name);
  return value === undefined || value === '' ? undefined : value;
}

export interface ParsedUri {
  user: string | undefined;
  host: string | undefined;
  params: Record<string, string | null>;
}

/** Parses a SIP URI; undefined when it is not one. */
export function parseUri(uri: string): ParsedUri | undefined {
  try {
    const parsed = Srf.parseUri(uri) as Partial<Srf.ParseUriResult> | undefined;
    if (!parsed || typeof parsed !== 'object') return undefined;
    return { user: parsed.user || undefined, host: parsed.host || undefined, params: parsed.params ?? {} };
  } catch {
    return undefined;
  }
}

/** The URI inside a name-addr (`"Bob" <sip:bob@x>;tag=1` → `sip:bob@x`), or the addr-spec itself. */
export function uriOf(nameAddr: string): string {
  const angle = /<([^>]*)>/.exec(nameAddr);
  if (angle?.[1] !== undefined) return angle[1].trim();
  return nameAddr.split(';')[0]?.trim() ?? '';
}

/** Splits a comma-separated header list (Record-Route, Contact), respecting <…> and "…". */
export function splitHeaderList(value: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '<') depth++;
    else if (c === '>') depth = Math.max(0, depth - 1);
    else if (c === ',' && depth === 0) {
      parts.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(value.slice(start).trim());
  return parts.filter((p) => p.length > 0);
}

/** The `tag` parameter of a From/To header. */
export function tagOf(nameAddr: string): string | undefined {
  const afterUri = nameAddr.includes('>') ? nameAddr.slice(nameAddr.lastIndexOf('>')) : nameAddr;
  return /;\s*tag=([^;\s>]+)/i.exec(afterUri)?.[1];
}

/** A From/To header without its tag parameter. */
export function withoutTag(nameAddr: string): string {
  const cut = nameAddr.includes('>') ? nameAddr.lastIndexOf('>') + 1 : 0;
  return (nameAddr.slice(0, cut) + nameAddr.slice(cut).replace(/;\s*tag=[^;\s>]+/i, '')).trim();
}

export interface InDialogRequest {
  method: 'REFER' | 'INFO' | 'NOTIFY';
  headers: Record<string, string>;
  body?: string;
}

/** Sends a request inside a dialog and resolves with its final response (the package types `opts` as a whole request). */
export async function requestInDialog(dialog: SipDialog, request: InDialogRequest): Promise<FinalResponse> {
  const send = dialog.request as unknown as (opts: InDialogRequest) => Promise<{ status: number; reason: string }>;
  const res = await send.call(dialog, request);
  return { status: res.status, reason: res.reason };
}

export interface PlaceCallOptions {
  localSdp: string;
  headers: Record<string, string>;
  /** Send the INVITE to this proxy (a SIP URI) instead of resolving the Request-URI. */
  proxy?: string | undefined;
  /** Aborting before the final answer CANCELs the INVITE (it then fails with 487). */
  signal: AbortSignal;
}

/**
 * Places a call (INVITE) and resolves with its dialog once answered. A failure rejects; its SIP
 * status, when there was one, is `statusOfFailure(error)`.
 */
export async function placeCall(srf: Srf, uri: string, options: PlaceCallOptions): Promise<SipDialog> {
  let sent: { cancel(): void } | undefined;
  const cancel = () => {
    try {
      sent?.cancel();
    } catch {
      // Already answered or gone: nothing to cancel.
    }
  };
  options.signal.addEventListener('abort', cancel, { once: true });
  try {
    return await srf.createUAC(
      uri,
      { localSdp: options.localSdp, headers: options.headers, ...(options.proxy !== undefined ? { proxy: options.proxy } : {}) },
      {
        cbRequest: (req) => {
          sent = req as unknown as { cancel(): void };
          if (options.signal.aborted) cancel();
        },
      },
    );
  } finally {
    options.signal.removeEventListener('abort', cancel);
  }
}

/** The SIP status and reason of a failed `placeCall`, when the far end (or drachtio) gave one. */
export function statusOfFailure(error: unknown): { status: number; reason: string } | undefined {
  const { status, reason } = (error ?? {}) as { status?: unknown; reason?: unknown };
  if (typeof status !== 'number') return undefined;
  return { status, reason: typeof reason === 'string' ? reason : '' };
}

type Handler = (req: SipRequest, res: SipResponse) => void;
type Method = 'invite' | 'options' | 'subscribe' | 'register' | 'info' | 'bye' | 'notify';

/** Registers the handler of new (out-of-dialog) requests of one method, after its steps (`useSteps`). */
export function onRequest(srf: Srf, method: Method, handler: Handler): void {
  const router = srf as unknown as Record<typeof method, (handler: Handler) => void>;
  router[method].call(srf, handler);
}

/** Hands the request to the next step (or the handler); a step that replied does not call it. */
export type Next = () => void;
/** A named step of a request's handling (drachtio-srf middleware); it may be async. */
export type Step = (req: SipRequest, res: SipResponse, next: Next) => void | Promise<void>;

/**
 * Runs these steps, in order, on every new request of `method` before its handler (drachtio-srf's
 * `use`). A step that throws or rejects is reported to `failed`, which must reply; drachtio-srf
 * goes no further once a final response is sent.
 */
export function useSteps(srf: Srf, method: Method, steps: readonly Step[], failed: (error: unknown, req: SipRequest, res: SipResponse) => void): void {
  for (const step of steps) {
    const run = (req: SipRequest, res: SipResponse, next: Next) => {
      let result;
      try {
        result = step(req, res, next);
      } catch (error) {
        failed(error, req, res);
        return;
      }
      if (result instanceof Promise) result.catch((error: unknown) => failed(error, req, res));
    };
    // drachtio-srf names its layers after the function, in its debug output.
    Object.defineProperty(run, 'name', { value: step.name });
    // The package types `next` as Function; ours is the call it is.
    const use = srf.use as unknown as (method: string, step: (req: SipRequest, res: SipResponse, next: Next) => void) => void;
    use.call(srf, method, run);
  }
}
