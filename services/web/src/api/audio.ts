/**
 * Audio over HTTP: a stored WAV streamed from storage's ranged chunk reads, with byte ranges
 * (206, Content-Range, 416), If-Range and If-None-Match against the entity tag, and HEAD. Never
 * more than a few chunks of it in memory, and the read stops when the client goes away.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { NatsConnection } from '@nats-io/nats-core';
import { readAudio, type AudioRef } from '@sipvm/contracts';
import type { RequestContext } from '../http/server.js';
import { ifRangeAllows, noneMatch, parseRange } from '../http/ranges.js';
import { HttpError } from '../http/problem.js';

export interface StoredAudio {
  ref: AudioRef;
  size: number;
  /** A strong entity tag: a message's audio never changes; a greeting's tag follows its version. */
  etag: string;
  lastModified?: string;
  /** Offered to a browser that saves the file. */
  filename: string;
}

export async function sendAudio(nc: NatsConnection, context: RequestContext, audio: StoredAudio): Promise<void> {
  const { req, res } = context;
  res.setHeader('accept-ranges', 'bytes');
  res.setHeader('etag', audio.etag);
  // Kept by the browser but asked again each time (a deleted message must not play on from a cache).
  res.setHeader('cache-control', 'private, no-cache');
  if (audio.lastModified) res.setHeader('last-modified', new Date(audio.lastModified).toUTCString());
  if (noneMatch(req.headers['if-none-match'], audio.etag)) {
    res.writeHead(304).end();
    return;
  }
  const range = ifRangeAllows(single(req.headers['if-range']), audio.etag) ? parseRange(req.headers.range, audio.size) : ({ kind: 'whole' } as const);
  if (range.kind === 'unsatisfiable') {
    throw new HttpError(416, `the audio has ${audio.size} bytes`, { 'content-range': `bytes */${audio.size}` });
  }
  const start = range.kind === 'partial' ? range.start : 0;
  const end = range.kind === 'partial' ? range.end + 1 : audio.size;
  res.writeHead(range.kind === 'partial' ? 206 : 200, {
    'content-type': 'audio/wav',
    'content-length': String(end - start),
    'content-disposition': `${context.query.get('download') === '1' ? 'attachment' : 'inline'}; filename="${audio.filename}"`,
    ...(range.kind === 'partial' ? { 'content-range': `bytes ${start}-${end - 1}/${audio.size}` } : {}),
  });
  if (req.method === 'HEAD' || end === start) {
    res.end();
    return;
  }
  try {
    await pipeline(Readable.from(readAudio(nc, audio.ref, { start, end })), res);
  } catch (error) {
    // Headers are out: all that can be done is to cut the response short (the client sees it
    // incomplete) and say why in the log — unless the client simply went away.
    if ((error as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') context.log.warn({ err: String(error) }, 'audio stream failed');
    res.destroy();
  }
}

/** A header that may come more than once counts only when it came once. */
function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? undefined : value;
}
