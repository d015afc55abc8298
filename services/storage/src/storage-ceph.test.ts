/**
 * The storage conformance suite against Ceph's RADOS Gateway, a real S3 on loopback, and what
 * only a real S3 can prove (s3rver checks neither): a wrong secret key is refused and reported,
 * and `If-None-Match: *` keeps the first write. One Ceph cluster serves the whole file.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { isServiceError, request, stagingBucket, StorageApi, type ServiceError } from '@sipvm/contracts';
import { CEPH_INSTALL, cephMissing, prerequisite, startCephRgw, startNats, startService, waitFor, type S3Server } from '@sipvm/harness';
import { S3BlobStore } from './s3-blobs.js';
import { describeStorageConformance } from '../test/conformance.js';
import { smallWav, stage } from '../test/support.js';

const missing = cephMissing();
const skip =
  prerequisite(
    'Ceph RGW storage tests',
    missing.length > 0 ? `Ceph RGW is not installed (missing ${missing.join(', ')}); install it with: ${CEPH_INSTALL}` : undefined,
  ) ?? false;

let started: Promise<S3Server> | undefined;
/** The file's one Ceph cluster, started by whichever test needs it first. */
const ceph = () => (started ??= startCephRgw());
after(async () => {
  const running = await started?.catch(() => undefined);
  await running?.close();
});

const clientFor = (s3: S3Server, secretAccessKey = s3.secretAccessKey) =>
  new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey },
  });

async function listKeys(client: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const res = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    keys.push(...(res.Contents ?? []).map((o) => o.Key ?? ''));
    token = res.NextContinuationToken;
  } while (token);
  return keys.sort();
}

const blobStore = (s3: S3Server, bucket: string, secretAccessKey = s3.secretAccessKey) =>
  new S3BlobStore({
    bucket,
    prefix: 'direct/',
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    connectTimeoutMs: 1_000,
    requestTimeoutMs: 10_000,
    accessKeyId: s3.accessKeyId,
    secretAccessKey,
  });

const bytes = (text: string) => new TextEncoder().encode(text);
async function* body(data: Uint8Array): AsyncIterable<Uint8Array> {
  yield data;
}

// Without Ceph, `prerequisite` stood for the file (skipped with the remedy, or failed in CI).
if (!skip)
  describe('Ceph RGW (a real S3 on loopback)', () => {
    describeStorageConformance({
      name: 'S3 (Ceph RADOS Gateway: signatures and conditional writes checked)',
      async setup() {
        const s3 = await ceph();
        const client = clientFor(s3);
        return {
          env: { ...s3.env, S3_PREFIX: 'vm/' },
          listAll: () => listKeys(client, s3.bucket),
          async teardown() {
            client.destroy();
          },
        };
      },
    });

    describe('what s3rver cannot check', () => {
      // A bucket of their own: the conformance suite compares listings of its bucket.
      const bucket = 'targeted';
      let s3: S3Server;
      let client: S3Client;
      const prepare = async () => {
        if (client) return;
        s3 = await ceph();
        client = clientFor(s3);
        await client.send(new CreateBucketCommand({ Bucket: bucket }));
      };
      after(() => client?.destroy());

      it('refuses a wrong secret key, and the storage service says so', async () => {
        await prepare();
        const env = { ...s3.env, S3_BUCKET: bucket, S3_PREFIX: 'service/', AWS_SECRET_ACCESS_KEY: `${s3.secretAccessKey}x`, STORAGE_HEALTH_INTERVAL_MS: '500' };
        const nats = await startNats();
        const service = await startService('storage', { ...env, NATS_URL: nats.url }, { waitReady: false });
        const nc = await nats.connect();
        try {
          // Up and serving, but not ready: its only failing check is the backend.
          let checks: Record<string, boolean> = {};
          await waitFor(
            async () => {
              const res = await service.readyz();
              checks = (res.body as { checks?: Record<string, boolean> }).checks ?? {};
              return res.status === 503 && checks.started === true;
            },
            20_000,
            'the storage service to start',
          );
          assert.deepEqual(
            Object.entries(checks)
              .filter(([, ok]) => !ok)
              .map(([name]) => name),
            ['backend'],
          );

          const mailbox = { did: 'example.org', uid: 'wrong-secret' };
          const refused = async (call: Promise<unknown>) =>
            call.then(
              () => assert.fail('the call succeeded with a wrong secret key'),
              (error: unknown) => error as ServiceError,
            );
          const counted = await refused(request(nc, StorageApi.countMailbox, { mailbox }));
          assert.ok(isServiceError(counted, 'storage-unavailable'), `got ${counted.kind}: ${counted.message}`);
          assert.match(counted.message, /s3:\/\/targeted\/service\//);
          assert.match(counted.message, /wrong secret key/);
          assert.match(counted.message, /HTTP 403 SignatureDoesNotMatch/);

          const staging = await stagingBucket(nc);
          const created = await refused(
            request(nc, StorageApi.createMessage, {
              mailbox,
              sender: 'sip:bob@example.org',
              recordedAt: new Date().toISOString(),
              durationMs: 1000,
              codec: 'PCMU',
              audio: await stage(staging, smallWav(1)),
            }),
          );
          assert.ok(isServiceError(created, 'storage-unavailable'), `got ${created.kind}: ${created.message}`);
          assert.match(created.message, /wrong secret key/);
          assert.deepEqual(await listKeys(client, bucket), [], 'a refused request stored something');
        } finally {
          await nc.close();
          await service.stop();
          await nats.close();
        }

        // Directly too: a refusal is an error, never taken for "absent" or "already there".
        const wrong = blobStore(s3, bucket, `${s3.secretAccessKey}x`);
        try {
          await assert.rejects(wrong.head('x'), (e) => isServiceError(e, 'storage-unavailable') && /HTTP 403/.test(e.message));
          await assert.rejects(wrong.get('x'), (e) => isServiceError(e, 'storage-unavailable') && /wrong secret key/.test(e.message));
          await assert.rejects(
            wrong.put('x', body(bytes('x')), 1, { ifAbsent: true }),
            (e) => isServiceError(e, 'storage-unavailable') && /wrong secret key/.test(e.message),
          );
          await assert.rejects(wrong.ping(), (e) => isServiceError(e, 'storage-unavailable') && /access denied/.test(e.message));
        } finally {
          wrong.close();
        }
        assert.deepEqual(await listKeys(client, bucket), []);
      });

      it('honours If-None-Match: * (create-if-absent keeps the first write)', async () => {
        await prepare();
        const store = blobStore(s3, bucket);
        try {
          const first = bytes('first writer');
          const second = bytes('second writer, longer');
          assert.equal(await store.put('meta/once.json', body(first), first.length, { ifAbsent: true }), true, 'the first create');
          assert.equal(await store.put('meta/once.json', body(second), second.length, { ifAbsent: true }), false, 'the second create must be refused');
          assert.deepEqual(await store.get('meta/once.json'), first, 'the first write is kept');
          // The condition is what refused it: an unconditional write replaces.
          assert.equal(await store.put('meta/once.json', body(second), second.length), true);
          assert.deepEqual(await store.get('meta/once.json'), second);
          assert.deepEqual(await listKeys(client, bucket), ['direct/meta/once.json']);
        } finally {
          store.close();
        }
      });
    });
  });
