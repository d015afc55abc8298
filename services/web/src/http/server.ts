/**
 * The HTTP server of the API and the inbox: routes by method and path template, the security
 * headers every answer carries, rate limits (per client address, then per token), authentication
 * and authorisation from each route's declared access, problem details for every failure, one
 * log line and metrics per request. Logs name the route template and the mailbox — never a
 * query string, a token or a key.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Histogram, type Registry } from 'prom-client';
import { GreetingTypeSchema, MailboxIdSchema, MessageIdSchema, normaliseMailbox, type Mailbox } from '@sipvm/contracts';
import { InFlight, type Logger } from '@sipvm/service';
import { authorize, rateKey, type Access, type Authenticator, type Principal } from '../auth.js';
import type { RateLimiter } from '../rate-limit.js';
import { clientAddress } from './client-address.js';
import { HttpError, sendProblem, toHttpError } from './problem.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  principal: Principal | undefined;
  /** The mailbox of the path ({did}/{uid}), normalised. */
  mailbox: Mailbox | undefined;
  log: Logger;
}

export interface Route {
  /** GET routes answer HEAD too. */
  method: Method;
  /** A template such as /api/v1/mailboxes/{did}/{uid}/messages/{id}. */
  path: string;
  access: Access;
  handle(context: RequestContext): Promise<void>;
}

/**
 * Sent with every answer. The CSP allows scripts, styles and media from this origin only (no
 * inline script, nothing from elsewhere); blob: is for playing back a greeting recorded in the page.
 */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self' blob:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'microphone=(self), camera=(), geolocation=()',
};

/** Path parameters and what they must be; a bad one is a 400 before anything else happens. */
const PARAMS = { did: MailboxIdSchema, uid: MailboxIdSchema, id: MessageIdSchema, type: GreetingTypeSchema } as const;

interface CompiledRoute extends Route {
  pattern: RegExp;
  names: (keyof typeof PARAMS)[];
}

function compile(route: Route): CompiledRoute {
  const names: (keyof typeof PARAMS)[] = [];
  const source = route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_all, name: string) => {
    if (!(name in PARAMS)) throw new Error(`route ${route.path}: unknown parameter ${name}`);
    names.push(name as keyof typeof PARAMS);
    return '([^/]+)';
  });
  return { ...route, pattern: new RegExp(`^${source}$`), names };
}

export interface WebServerOptions {
  host: string;
  port: number;
  routes: Route[];
  authenticator: Authenticator;
  perAddress: RateLimiter;
  perToken: RateLimiter;
  trustedProxies: readonly string[];
  log: Logger;
  registry: Registry;
}

export interface WebServer {
  readonly port: number;
  /** Stops taking connections and waits for the requests in progress. */
  close(): Promise<void>;
}

export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const routes = options.routes.map(compile);
  const trusted = new Set(options.trustedProxies);
  const inFlight = new InFlight();
  const requests = new Counter({
    name: 'sipvm_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'],
    registers: [options.registry],
  });
  const duration = new Histogram({
    name: 'sipvm_http_request_duration_seconds',
    help: 'Time to answer an HTTP request (to the end of the body), by route',
    labelNames: ['route'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [options.registry],
  });
  const limited = new Counter({
    name: 'sipvm_http_rate_limited_total',
    help: 'Requests refused by a rate limit',
    labelNames: ['limit'],
    registers: [options.registry],
  });

  /** `seen` collects what the log line names: the route template and the mailbox. */
  const dispatch = async (req: IncomingMessage, res: ServerResponse, seen: { route: string; mailbox?: Mailbox }): Promise<void> => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    const address = clientAddress(req, trusted);
    const byAddress = options.perAddress.take(address);
    if (!byAddress.allowed) {
      limited.inc({ limit: 'address' });
      throw new HttpError(429, 'too many requests from this address', { 'retry-after': String(byAddress.retryAfterSeconds) });
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      throw new HttpError(400, 'the request target is not a URL');
    }
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const candidates = routes.filter((r) => r.pattern.test(url.pathname));
    const matched = candidates.find((r) => r.method === method);
    if (!matched) {
      if (candidates.length === 0) throw new HttpError(404, 'no such resource');
      const allow = [...new Set(candidates.flatMap((r) => (r.method === 'GET' ? ['GET', 'HEAD'] : [r.method])))].join(', ');
      throw new HttpError(405, `${req.method ?? '?'} is not allowed here`, { allow });
    }
    seen.route = matched.path;
    const params = readParams(matched, url.pathname);
    const mailbox = params.did !== undefined && params.uid !== undefined ? normaliseMailbox({ did: params.did, uid: params.uid }) : undefined;
    seen.mailbox = mailbox;
    let principal: Principal | undefined;
    if (matched.access.kind !== 'public') {
      principal = options.authenticator.authenticate(req, url.searchParams, matched.access.kind === 'mailbox' && matched.access.audio !== undefined);
      authorize(principal, matched.access, mailbox, params);
      const key = rateKey(principal);
      const byToken = key === undefined ? undefined : options.perToken.take(key);
      if (byToken && !byToken.allowed) {
        limited.inc({ limit: 'token' });
        throw new HttpError(429, 'too many requests with this token', { 'retry-after': String(byToken.retryAfterSeconds) });
      }
    }
    const log = mailbox ? options.log.child({ mailbox: `${mailbox.uid}@${mailbox.did}` }) : options.log;
    await matched.handle({ req, res, params, query: url.searchParams, principal, mailbox, log });
  };

  const server: Server = createServer((req, res) => {
    const started = process.hrtime.bigint();
    const seen: { route: string; mailbox?: Mailbox } = { route: 'unmatched' };
    res.once('finish', () => lingerAfterAnswer(req));
    res.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      requests.inc({ route: seen.route, method: req.method ?? '?', status: String(res.statusCode) });
      duration.observe({ route: seen.route }, seconds);
      const { mailbox } = seen;
      const line = {
        method: req.method,
        route: seen.route,
        status: res.statusCode,
        ms: Math.round(seconds * 1000),
        ...(mailbox ? { mailbox: `${mailbox.uid}@${mailbox.did}` } : {}),
        ...(res.writableFinished ? {} : { aborted: true }),
      };
      if (res.statusCode >= 500) options.log.warn(line, 'http request failed');
      else options.log.info(line, 'http request');
    });
    void inFlight.track(
      dispatch(req, res, seen).catch((error: unknown) => {
        const failure = toHttpError(error);
        if (failure.status === 500) options.log.error({ route: seen.route, err: String(error), stack: (error as Error).stack }, 'http handler failed');
        sendProblem(res, failure);
      }),
    );
  });
  server.headersTimeout = 20_000;
  server.requestTimeout = 120_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await inFlight.idle();
      server.closeAllConnections();
      await closed;
    },
  };
}

function readParams(route: CompiledRoute, pathname: string): Record<string, string> {
  const values = route.pattern.exec(pathname)?.slice(1) ?? [];
  const params: Record<string, string> = {};
  route.names.forEach((name, i) => {
    let value: string;
    try {
      value = decodeURIComponent(values[i] ?? '');
    } catch {
      throw new HttpError(400, `${name} is not valid percent-encoding`);
    }
    const checked = PARAMS[name].safeParse(value);
    if (!checked.success) throw new HttpError(400, `${name}: ${checked.error.issues[0]?.message ?? 'is not valid'}`);
    params[name] = checked.data;
  });
  return params;
}

/** How long the rest of a body answered before it was read may still come: see `lingerAfterAnswer`. */
const LINGER_MS = 5_000;

/**
 * A request answered before its body was read (413, 401, 429 to an upload) still has its client
 * sending. Node reads and drops the rest, as long as the connection is kept; closing it at once
 * would make the client's next write fail and hide the answer behind a reset (undici: EPIPE),
 * which is why nginx lingers too. The rest gets LINGER_MS, then the connection closes.
 */
function lingerAfterAnswer(req: IncomingMessage): void {
  if (req.complete) return;
  const timer = setTimeout(() => req.socket.destroy(), LINGER_MS);
  timer.unref();
  req.once('end', () => clearTimeout(timer)).once('close', () => clearTimeout(timer));
}
