/** Request bodies, read with a size limit and checked before use. */
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { describeIssues } from '@sipvm/contracts';
import { HttpError } from './problem.js';

/**
 * Reads the whole body, refusing more than `limit` bytes (413) whether or not Content-Length says
 * so. What follows a refusal is left to the server, which drops it for a while so that the client
 * reads the answer (server.ts, `lingerAfterAnswer`); the request is not destroyed here.
 */
export function readBytes(req: IncomingMessage, limit: number): Promise<Buffer> {
  const announced = Number(req.headers['content-length']);
  if (Number.isFinite(announced) && announced > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        parts.push(chunk);
        return;
      }
      req.off('data', onData).off('end', onEnd);
      reject(tooLarge(limit));
    };
    const onEnd = () => resolve(Buffer.concat(parts));
    req.on('data', onData).once('end', onEnd).once('error', reject);
  });
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, `the body is larger than ${limit} bytes`);
}

/** The media type of the body without parameters, lower-case ('' when absent). */
export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

const JSON_LIMIT = 16 * 1024;

/** A JSON body (Content-Type application/json) checked against `schema`; 400 names what is wrong. */
export async function readJson<S extends z.ZodType>(req: IncomingMessage, schema: S): Promise<z.output<S>> {
  if (mediaType(req) !== 'application/json') throw new HttpError(415, 'the body must be application/json');
  const text = (await readBytes(req, JSON_LIMIT)).toString('utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'the body is not valid JSON');
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new HttpError(400, describeIssues(parsed.error));
  return parsed.data;
}
