/**
 * A real S3-compatible server on loopback, as its own process: `s3rver` (npm). It speaks the S3
 * REST API over HTTP, so the AWS SDK signs real requests and streams real bodies to it.
 * It does not check secrets or conditional writes (docs/design.md); tests must not rely on either.
 */
import { createRequire } from 'node:module';
import { startRestartable } from './process.js';
import { canConnect, freePort } from './ports.js';
import { tempDir } from './tmp.js';

export interface S3Server {
  readonly endpoint: string;
  readonly port: number;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
  /** Environment for the storage service to use this server. */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
  /** Its processes by role, for CPU figures (Ceph: monitor, OSD, gateway). */
  pids?(): { role: string; pid: number | undefined }[];
}

const require = createRequire(import.meta.url);

/** Environment for the storage service to use an S3 server. */
export function s3ServiceEnv(s3: { endpoint: string; bucket: string; region: string; accessKeyId: string; secretAccessKey: string }): Record<string, string> {
  return {
    STORAGE_BACKEND: 's3',
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: s3.bucket,
    S3_REGION: s3.region,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
  };
}

export async function startS3(bucket = 'voicemail'): Promise<S3Server> {
  const port = await freePort();
  const dir = await tempDir('s3');
  const bin = require.resolve('s3rver/bin/s3rver.js');
  const server = await startRestartable(
    {
      name: 's3rver',
      command: process.execPath,
      args: [bin, '--address', '127.0.0.1', '--port', String(port), '--directory', dir.path, '--configure-bucket', bucket, '--silent'],
      ready: () => canConnect(port),
    },
    dir,
  );
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', region: 'us-east-1' };
  return {
    endpoint,
    port,
    bucket,
    ...credentials,
    env: s3ServiceEnv({ endpoint, bucket, ...credentials }),
    start: server.start,
    stop: server.stop,
    close: server.close,
  };
}
