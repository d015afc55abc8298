/**
 * The one error envelope. Every reply on NATS is either `{ ok: true, result }` or
 * `{ ok: false, error: { kind, message } }`, and callers branch on `kind`, never on message text.
 */
import { z } from 'zod';

export const ERROR_KINDS = [
  /** The request itself is wrong: a schema violation, a hostile id, a missing field. Do not retry. */
  'bad-request',
  /** The mailbox has nothing in it at all (for operations on a single message). */
  'mailbox-not-found',
  'message-not-found',
  'greeting-not-found',
  /** The mailbox is at its configured maximum number of messages. */
  'quota-exceeded',
  /** The backing store (S3, the folder) cannot be reached or failed; retrying later may work. */
  'storage-unavailable',
  /** Nobody answered on NATS, or not in time; retrying later may work. */
  'service-unavailable',
  /** A bug or an unexpected failure in the answering service. */
  'internal',
] as const;

export const ErrorKindSchema = z.enum(ERROR_KINDS);
export type ErrorKind = z.infer<typeof ErrorKindSchema>;

export const ErrorBodySchema = z.strictObject({
  kind: ErrorKindSchema,
  message: z.string(),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/** Kinds worth retrying: the request was fine, something on the way was not. */
export const RETRYABLE_KINDS: ReadonlySet<ErrorKind> = new Set(['storage-unavailable', 'service-unavailable']);

/** An error that crosses service boundaries with its kind intact. */
export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get retryable(): boolean {
    return RETRYABLE_KINDS.has(this.kind);
  }

  toBody(): ErrorBody {
    return { kind: this.kind, message: this.message };
  }
}

export function isServiceError(error: unknown, kind?: ErrorKind): error is ServiceError {
  return error instanceof ServiceError && (kind === undefined || error.kind === kind);
}

/** Any thrown value as a ServiceError: service errors pass through, everything else is `internal`. */
export function toServiceError(error: unknown): ServiceError {
  if (error instanceof ServiceError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ServiceError('internal', message, { cause: error });
}

/** A readable, single-line account of what a schema rejected, naming each field. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.length > 0 ? issue.path.join('.') : '(payload)';
      return `${path}: ${issue.message}`;
    })
    .join('; ');
}
