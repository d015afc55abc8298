/**
 * The storage service: the only owner of bytes at rest (messages and greetings), in S3 or a
 * local folder, reachable only over NATS.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { BUCKETS, ensureStreams, openKv, openStagedAudio, stagingBucket } from '@sipvm/contracts';
import { readFile } from 'node:fs/promises';
import { ConfigError, runService } from '@sipvm/service';
import { storageConfig } from './config.js';
import { LocalBlobStore } from './local-blobs.js';
import { S3BlobStore } from './s3-blobs.js';
import type { BlobStore } from './blobs.js';
import { MailboxStore } from './mailbox-store.js';
import { MailboxCountKeeper } from './mailbox-counts.js';
import { mailboxEventPublisher } from './mailbox-events.js';
import { serveStorageApi } from './api.js';

await runService({
  name: 'storage',
  config: storageConfig,
  check: (config) => (config.STORAGE_BACKEND === 's3' && !config.S3_BUCKET ? ['S3_BUCKET (unset): is required when STORAGE_BACKEND=s3'] : []),
  async prepare(config): Promise<{ s3Ca: Buffer | undefined }> {
    if (config.S3_CA_FILE === undefined) return { s3Ca: undefined };
    try {
      return { s3Ca: await readFile(config.S3_CA_FILE) };
    } catch (error) {
      throw new ConfigError([`S3_CA_FILE ("${config.S3_CA_FILE}"): cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`]);
    }
  },
  async start({ config, log, nc, registry, readiness, prepared }) {
    let blobs: BlobStore;
    if (config.STORAGE_BACKEND === 's3') {
      blobs = new S3BlobStore({
        bucket: config.S3_BUCKET ?? '',
        prefix: config.S3_PREFIX,
        endpoint: config.S3_ENDPOINT,
        region: config.S3_REGION,
        forcePathStyle: config.S3_FORCE_PATH_STYLE,
        connectTimeoutMs: config.S3_CONNECT_TIMEOUT_MS,
        requestTimeoutMs: config.S3_REQUEST_TIMEOUT_MS,
        ...(prepared.s3Ca ? { ca: prepared.s3Ca } : {}),
      });
    } else {
      const local = new LocalBlobStore(config.STORAGE_DIR);
      await local.init();
      blobs = local;
    }
    log.info({ backend: blobs.description }, 'storage backend');

    // Readiness follows the backend: checked in the background, never on the request path.
    // undefined until the first check, so the first failure (wrong credentials, no bucket) is logged too.
    let backendUp: boolean | undefined;
    const checkBackend = async () => {
      try {
        await blobs.ping();
        if (backendUp !== true) log.info({ backend: blobs.description }, 'storage backend reachable');
        backendUp = true;
      } catch (error) {
        if (backendUp !== false) log.error({ err: error instanceof Error ? error.message : String(error) }, 'storage backend unreachable');
        backendUp = false;
      }
    };
    await checkBackend();
    const healthTimer = setInterval(() => void checkBackend(), config.STORAGE_HEALTH_INTERVAL_MS);
    readiness.add('backend', () => backendUp === true);

    await ensureStreams(await jetstreamManager(nc), ['mailbox']);
    const staging = await stagingBucket(nc);
    const events = mailboxEventPublisher(jetstream(nc), log, registry);
    const store = new MailboxStore(blobs, {
      maxMessages: config.STORAGE_MAX_MESSAGES,
      retentionSavedDays: config.STORAGE_RETENTION_SAVED_DAYS,
      openStaged: async (staged) => openStagedAudio(staging, staged),
      onChange: events.changed,
      onTranscribed: events.transcribed,
      counts: new MailboxCountKeeper(await openKv(nc, BUCKETS.mailboxCounts, { history: 1, description: 'new and saved messages per mailbox' })),
      log,
    });
    const api = serveStorageApi(nc, store, log, registry);

    return {
      async stop() {
        clearInterval(healthTimer);
        await api.stop();
      },
    };
  },
});
