/**
 * Errors over HTTP: RFC 9457 problem details (`application/problem+json`), one per failure, with
 * a status a client can act on. Storage's error kinds map to statuses here, once.
 */
import type { ServerResponse } from 'node:http';
import { toServiceError, type ErrorKind } from '@sipvm/contracts';

export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

export const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

const STATUS_OF_KIND: Record<ErrorKind, number> = {
  'bad-request': 400,
  'mailbox-not-found': 404,
  'message-not-found': 404,
  'greeting-not-found': 404,
  'quota-exceeded': 409,
  'storage-unavailable': 503,
  'service-unavailable': 503,
  internal: 500,
};

/** Any thrown value as an HttpError: storage's kinds keep their meaning, bugs are 500 without details. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  const failure = toServiceError(error);
  const status = STATUS_OF_KIND[failure.kind];
  if (status === 500) return new HttpError(500, 'the server failed; the failure is logged');
  return new HttpError(status, failure.message, status === 503 ? { 'retry-after': '5' } : {});
}

export function sendProblem(res: ServerResponse, error: HttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ type: 'about:blank', title: TITLES[error.status] ?? 'Error', status: error.status, detail: error.detail });
  res.writeHead(error.status, {
    ...error.headers,
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}
