/**
 * The few object operations the mailbox logic needs, implemented once per backend
 * (local folder, S3). Everything above this interface is written — and tested — once.
 *
 * Contract for implementations:
 * - `put` is atomic: readers see the old object or the whole new one, never a part.
 *   With `ifAbsent`, it writes only when no object exists and returns false otherwise.
 * - `delete` of a missing key succeeds.
 * - Failures of the backend itself throw ServiceError('storage-unavailable').
 */
export interface BlobInfo {
  key: string;
  size: number;
  modified: Date;
}

export interface BlobStore {
  readonly description: string;
  put(key: string, body: AsyncIterable<Uint8Array>, size: number, options?: { ifAbsent?: boolean }): Promise<boolean>;
  /** The whole object, for small ones (metadata); null when missing. */
  get(key: string): Promise<Uint8Array | null>;
  /** At most `length` bytes from `offset`, and the object's size; null when missing. */
  read(key: string, offset: number, length: number): Promise<{ bytes: Uint8Array; totalSize: number } | null>;
  head(key: string): Promise<BlobInfo | null>;
  /** Every object under a prefix (recursively), in no particular order. */
  list(prefix: string): Promise<BlobInfo[]>;
  /** The keys under a prefix, like `list` without sizes and times: what counting needs, cheaper. */
  keys(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
  /** Throws when the backend cannot be reached. */
  ping(): Promise<void>;
}

export async function* bytesOf(data: Uint8Array): AsyncIterable<Uint8Array> {
  yield data;
}

/** What the bytes say as JSON, or undefined when they are not JSON (a schema then says what is wrong). */
export function safeJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}
