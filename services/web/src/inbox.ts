/**
 * The web inbox: a few static files (public/), read once at start-up and served with the same
 * security headers as the API. No build step and nothing from elsewhere: the page's script talks
 * to this service's API with the mailbox token it was opened with.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '@sipvm/service';
import type { Route } from './http/server.js';
import { noneMatch } from './http/ranges.js';

const PUBLIC = pathToFileURL(`${join(packageRoot(import.meta.url), 'public')}/`);

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/inbox.js': { file: 'inbox.js', type: 'text/javascript; charset=utf-8' },
  '/wav.js': { file: 'wav.js', type: 'text/javascript; charset=utf-8' },
  '/inbox.css': { file: 'inbox.css', type: 'text/css; charset=utf-8' },
  '/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};

export async function inboxRoutes(): Promise<Route[]> {
  return Promise.all(
    Object.entries(FILES).map(async ([path, { file, type }]): Promise<Route> => {
      const body = await readFile(new URL(file, PUBLIC));
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
      return {
        method: 'GET',
        path,
        access: { kind: 'public' },
        async handle({ req, res }) {
          if (noneMatch(req.headers['if-none-match'], etag)) {
            res.writeHead(304, { etag }).end();
            return;
          }
          res.writeHead(200, { 'content-type': type, 'content-length': body.length, etag, 'cache-control': 'no-cache' });
          res.end(body);
        },
      };
    }),
  );
}
