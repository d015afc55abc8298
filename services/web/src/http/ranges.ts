/**
 * Byte ranges (RFC 9110 §14): one range per request, as <audio> elements and download tools ask.
 * Several ranges in one request are answered with the whole body (the RFC allows ignoring Range).
 */
export type RangeRequest =
  /** No usable Range: send everything (200). */
  | { kind: 'whole' }
  /** Bytes `start` to `end` inclusive (206). */
  | { kind: 'partial'; start: number; end: number }
  /** Nothing of the range exists (416). */
  | { kind: 'unsatisfiable' };

export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: 'whole' };
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return { kind: 'whole' };
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return { kind: 'whole' };
  if (first === '') {
    // The final `last` bytes.
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (!Number.isSafeInteger(start) || start >= size) return { kind: 'unsatisfiable' };
  if (end < start) return { kind: 'whole' }; // syntactically invalid: ignored
  return { kind: 'partial', start, end };
}

/** Whether an If-Range precondition lets the Range apply: only a matching strong entity tag does. */
export function ifRangeAllows(ifRange: string | undefined, etag: string): boolean {
  return ifRange === undefined || ifRange.trim() === etag;
}

/** Whether If-None-Match names the current representation (then 304). */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const opaque = etag.replace(/^W\//, '');
  return header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === opaque);
}
