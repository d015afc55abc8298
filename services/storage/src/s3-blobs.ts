/**
 * The production backend: S3-compatible object storage (AWS S3, MinIO, Ceph RGW).
 *
 * Only what all three have is used: single PUT with a known length (atomic by S3's semantics,
 * up to 5 GB: an hour of wideband WAV is ~115 MB), ranged GET, HEAD, ListObjectsV2, DELETE,
 * and `If-None-Match: *` for create-if-absent. Checksums are only sent where the service
 * requires them: the SDK's default aws-chunked trailing checksums are not understood by every
 * S3-compatible server.
 */
import { Agent as HttpsAgent } from 'node:https';
import { rootCertificates } from 'node:tls';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ServiceError } from '@sipvm/contracts';
import type { BlobInfo, BlobStore } from './blobs.js';

export interface S3Options {
  bucket: string;
  /** Key prefix inside the bucket, e.g. `voicemail/`; empty for the bucket root. */
  prefix: string;
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  /** Connect timeout; an unreachable S3 fails fast instead of holding calls. */
  connectTimeoutMs: number;
  /** Per-request socket timeout. */
  requestTimeoutMs: number;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Extra CA certificates (PEM) an https endpoint may be signed by. */
  ca?: Buffer;
}

export class S3BlobStore implements BlobStore {
  readonly description: string;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;

  constructor(options: S3Options) {
    this.#bucket = options.bucket;
    this.#prefix = options.prefix;
    this.description = `s3://${options.bucket}/${options.prefix}${options.endpoint ? ` at ${options.endpoint}` : ''}`;
    this.#client = new S3Client({
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.accessKeyId && options.secretAccessKey
        ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }
        : {}),
      maxAttempts: 2,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: new NodeHttpHandler({
        connectionTimeout: options.connectTimeoutMs,
        requestTimeout: options.requestTimeoutMs,
        // Node's own CAs and the operator's (S3_CA_FILE), as for SMTP and NATS.
        ...(options.ca ? { httpsAgent: new HttpsAgent({ keepAlive: true, ca: [...rootCertificates, options.ca.toString()] }) } : {}),
      }),
    });
  }

  async put(key: string, body: AsyncIterable<Uint8Array>, size: number, options: { ifAbsent?: boolean } = {}): Promise<boolean> {
    try {
      await this.#client.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key: this.#prefix + key,
          Body: Readable.from(body),
          ContentLength: size,
          ContentType: key.endsWith('.json') ? 'application/json' : key.endsWith('.wav') ? 'audio/wav' : 'application/octet-stream',
          ...(options.ifAbsent ? { IfNoneMatch: '*' } : {}),
        }),
      );
      return true;
    } catch (error) {
      if (options.ifAbsent && httpStatus(error) === 412) return false;
      throw this.#unavailable(`write ${key}`, error);
    }
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      const res = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key }));
      return res.Body ? await res.Body.transformToByteArray() : new Uint8Array(0);
    } catch (error) {
      if (isNotFound(error)) return null;
      throw this.#unavailable(`read ${key}`, error);
    }
  }

  async read(key: string, offset: number, length: number): Promise<{ bytes: Uint8Array; totalSize: number } | null> {
    try {
      const res = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key, Range: `bytes=${offset}-${offset + length - 1}` }),
      );
      const bytes = res.Body ? await res.Body.transformToByteArray() : new Uint8Array(0);
      const total = /\/(\d+)$/.exec(res.ContentRange ?? '')?.[1];
      return { bytes, totalSize: total !== undefined ? Number(total) : (res.ContentLength ?? bytes.length) };
    } catch (error) {
      if (isNotFound(error)) return null;
      // Reading at or past the end (or any range of an empty object) is 416: an empty chunk.
      if (httpStatus(error) === 416) {
        const info = await this.head(key);
        return info ? { bytes: new Uint8Array(0), totalSize: info.size } : null;
      }
      throw this.#unavailable(`read ${key}`, error);
    }
  }

  async head(key: string): Promise<BlobInfo | null> {
    try {
      const res = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key }));
      return { key, size: res.ContentLength ?? 0, modified: res.LastModified ?? new Date(0) };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw this.#unavailable(`stat ${key}`, error);
    }
  }

  async list(prefix: string): Promise<BlobInfo[]> {
    const found: BlobInfo[] = [];
    let token: string | undefined;
    try {
      do {
        const res = await this.#client.send(new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: this.#prefix + prefix, ContinuationToken: token }));
        for (const item of res.Contents ?? []) {
          if (item.Key === undefined) continue;
          found.push({ key: item.Key.slice(this.#prefix.length), size: item.Size ?? 0, modified: item.LastModified ?? new Date(0) });
        }
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
    } catch (error) {
      throw this.#unavailable(`list ${prefix}`, error);
    }
    return found;
  }

  async keys(prefix: string): Promise<string[]> {
    return (await this.list(prefix)).map((info) => info.key);
  }

  async delete(key: string): Promise<void> {
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key }));
    } catch (error) {
      if (!isNotFound(error)) throw this.#unavailable(`delete ${key}`, error);
    }
  }

  async ping(): Promise<void> {
    try {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.#bucket }));
    } catch (error) {
      throw this.#unavailable('reach the bucket', error);
    }
  }

  close(): void {
    this.#client.destroy();
  }

  #unavailable(what: string, error: unknown): ServiceError {
    return new ServiceError('storage-unavailable', `cannot ${what} in ${this.description}: ${describeFailure(error)}`, { cause: error });
  }
}

/** The S3 error codes of refused credentials, and what an operator should check for each. */
const REFUSALS: Record<string, string> = {
  SignatureDoesNotMatch: 'the request signature does not match: wrong secret key for this access key (AWS_SECRET_ACCESS_KEY)',
  InvalidAccessKeyId: 'the access key is unknown to the server (AWS_ACCESS_KEY_ID)',
  AccessDenied: 'access denied: the credentials are not allowed this operation on the bucket',
  ExpiredToken: 'the credentials have expired',
  RequestTimeTooSkewed: "this machine's clock is too far from the server's",
};

/** Why an S3 call failed, in words an operator can act on. */
function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const status = httpStatus(error);
  // The SDK says "UnknownError" (name "Unknown") when a response has no readable body, as HEAD
  // responses never do: only the status is known then.
  const name = error.name === 'Unknown' ? '' : error.name;
  const message = error.message === 'UnknownError' || error.message === name ? '' : error.message;
  const code = [status ? `HTTP ${status}` : '', name].filter(Boolean).join(' ');
  const refusal = REFUSALS[name] ?? (status === 403 ? 'access denied: check the access key, the secret key and the permissions on the bucket' : undefined);
  if (refusal) return `${refusal} (${code}${message ? `: ${message}` : ''})`;
  return [code, message].filter(Boolean).join(': ') || 'Error';
}

function httpStatus(error: unknown): number | undefined {
  return error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
}

function isNotFound(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return false;
  return error.name === 'NoSuchKey' || error.name === 'NotFound' || (httpStatus(error) === 404 && error.name !== 'NoSuchBucket');
}
