/**
 * The storage service: the only owner of bytes at rest (messages and greetings), in S3 or a
 * local folder, reachable only over NATS.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { BUCKETS, ensureStreams, eraseKvKey, openKv, openStagedAudio, publishNotice, stagingBucket } from '@sipvm/contracts';
import { readFile } from 'node:fs/promises';
import { ConfigError, Domains, runService } from '@sipvm/service';
import { storageConfig } from './config.js';
import { LocalBlobStore } from './local-blobs.js';
import { S3BlobStore } from './s3-blobs.js';
import type { BlobStore } from './blobs.js';
import { MailboxStore } from './mailbox-store.js';
import { MailboxCountKeeper } from './mailbox-counts.js';
import { mailboxEventPublisher } from './mailbox-events.js';
import { serveStorageApi } from './api.js';
import { GreetingStore } from './greetings.js';
import { Retention } from './retention.js';
import { retentionPolicies } from './retention-policy.js';

await runService({
  name: 'storage',
  config: storageConfig,
  check: (config) => (config.STORAGE_BACKEND === 's3' && !config.S3_BUCKET ? ['S3_BUCKET (unset): is required when STORAGE_BACKEND=s3'] : []),
  async prepare(config): Promise<{ s3Ca: Buffer | undefined; domains: Domains }> {
    const domains = await Domains.of(config.VM_DOMAINS_FILE);
    if (config.S3_CA_FILE === undefined) return { s3Ca: undefined, domains };
    try {
      return { s3Ca: await readFile(config.S3_CA_FILE), domains };
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

    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await ensureStreams(jsm, ['mailbox', 'mailboxNotices']);
    const staging = await stagingBucket(nc);
    const openStaged = async (staged: Parameters<typeof openStagedAudio>[1]) => openStagedAudio(staging, staged);
    const policy = retentionPolicies(prepared.domains, {
      newDays: config.STORAGE_RETENTION_NEW_DAYS,
      savedDays: config.STORAGE_RETENTION_SAVED_DAYS,
      warnDays: config.STORAGE_RETENTION_WARN_DAYS,
    });
    const notify = (notice: Parameters<typeof publishNotice>[1]) => publishNotice(js, notice);
    // The store tells retention's schedule of every message that may expire; the schedule sweeps the store.
    const schedule: { retention?: Retention } = {};
    const events = mailboxEventPublisher(js, log, registry);
    const store = new MailboxStore(blobs, {
      retention: policy,
      openStaged,
      onChange: events.changed,
      onTranscribed: events.transcribed,
      onNotice: notify,
      onExpiry: (mailbox, at, owner) => schedule.retention?.expiresAt(mailbox, at, owner) ?? Promise.resolve(),
      counts: new MailboxCountKeeper(await openKv(nc, BUCKETS.mailboxCounts, { history: 1, description: 'new and saved messages per mailbox' })),
      log,
    });
    const retention = new Retention({
      kv: await openKv(nc, BUCKETS.retention, { history: 1, description: 'when each mailbox is next due for retention' }),
      store,
      policy,
      notify,
      erase: (key) => eraseKvKey(jsm, BUCKETS.retention, key),
      log,
      instance: config.INSTANCE_ID,
    });
    schedule.retention = retention;
    const greetings = new GreetingStore(blobs, { openStaged, now: Date.now });
    const api = serveStorageApi(nc, store, greetings, log, registry);
    let sweeping: Promise<unknown> | undefined;
    const sweepTimer = setInterval(() => {
      // One sweep at a time: a long one (many mailboxes due after an outage) is not overtaken.
      sweeping ??= retention
        .sweep()
        .catch((error: unknown) => log.warn({ err: String(error) }, 'retention sweep failed; the next one tries again'))
        .finally(() => (sweeping = undefined));
    }, config.STORAGE_RETENTION_SWEEP_MS);

    return {
      async stop() {
        clearInterval(healthTimer);
        clearInterval(sweepTimer);
        await api.stop();
        await sweeping;
      },
    };
  },
});
