/** A broken configuration stops the service at start-up, naming every bad variable. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '@sipvm/harness';

const main = join(REPO_ROOT, 'services', 'storage', 'dist', 'main.js');
const run = (env: Record<string, string>) =>
  spawnSync(process.execPath, [main], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 10_000 });

it('exits with EX_CONFIG (78) and names each bad variable and why', () => {
  const result = run({ STORAGE_BACKEND: 'ftp', HTTP_PORT: '99999', STORAGE_RETENTION_NEW_DAYS: '-3', S3_PREFIX: 'no-slash' });
  assert.equal(result.status, 78, result.stderr);
  assert.match(result.stderr, /STORAGE_BACKEND \("ftp"\): must be one of local, s3/);
  assert.match(result.stderr, /HTTP_PORT \("99999"\): must be between 0 and 65535/);
  assert.match(result.stderr, /STORAGE_RETENTION_NEW_DAYS \("-3"\): must be at least 0/);
  assert.match(result.stderr, /S3_PREFIX \("no-slash"\): must be empty or end with \//);
});

it('requires a bucket for the S3 backend', () => {
  const result = run({ STORAGE_BACKEND: 's3', NATS_URL: 'nats://127.0.0.1:1' });
  assert.equal(result.status, 78, result.stderr);
  assert.match(result.stderr, /S3_BUCKET \(unset\): is required when STORAGE_BACKEND=s3/);
});
