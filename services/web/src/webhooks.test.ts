/**
 * Webhooks end to end: real nats-server, the real storage service storing real messages, the web
 * service as a process, and a real HTTP receiver started here. Signatures are verified the way
 * the README tells receivers to; failing receivers get the delivery after retries; a budget
 * spent is reported on VM_WEBHOOKS_FAILED; a restart of the service in the middle loses nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { request, StorageApi, STREAMS, WebhookFailedEventSchema, type MessageWebhookBody, type WebhookBody, type WebhookFailedEvent } from '@sipvm/contracts';
import { smallWav, storeMessage, tempDir, waitFor } from '@sipvm/harness';
import { startWebRig, type WebRig } from '../test/support.js';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  status: number;
}

/** A receiver of webhooks: answers each path's first `failures` posts with 503, then 204. */
async function startReceiver(failures: Record<string, number>) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      const before = received.filter((r) => r.path === path).length;
      const status = before < (failures[path] ?? 0) ? 503 : 204;
      received.push({ path, headers: req.headers, raw, status });
      res.writeHead(status).end(status === 503 ? 'busy, try later' : undefined);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    at: (path: string) => received.filter((r) => r.path === path),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** What the README tells a receiver to do with Sipvm-Signature. */
function verifiedByReceiver(secret: string, raw: string, header: string): boolean {
  const { t, v1 } = Object.fromEntries(header.split(',').map((kv) => kv.split('=') as [string, string]));
  if (!t || !v1 || Math.abs(Date.now() / 1000 - Number(t)) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${raw}`).digest();
  const given = Buffer.from(v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const SECRETS = { crm: 'crm-secret-0123456789', all: 'all-secret-0123456789', flaky: 'flaky-secret-012345678', down: 'down-secret-012345678' };

describe('webhooks on a new message', () => {
  let rig: WebRig;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let dir: Awaited<ReturnType<typeof tempDir>>;

  before(async () => {
    receiver = await startReceiver({ '/flaky': 2, '/down': 1_000, '/restart': 1 });
    dir = await tempDir('webhooks');
    const file = join(dir.path, 'webhooks.json');
    await writeFile(join(dir.path, 'flaky-secret'), `${SECRETS.flaky}\n`);
    await writeFile(
      file,
      JSON.stringify({
        targets: [
          { name: 'crm', url: `${receiver.url}/crm`, secret: SECRETS.crm, domains: ['Example.org'] },
          { name: 'flaky', url: `${receiver.url}/flaky`, secretFile: join(dir.path, 'flaky-secret'), domains: ['flaky.example'] },
          { name: 'down', url: `${receiver.url}/down`, secret: SECRETS.down, domains: ['down.example'] },
          { name: 'restart', url: `${receiver.url}/restart`, secret: SECRETS.down, domains: ['restart.example'] },
        ],
      }),
    );
    rig = await startWebRig({
      WEBHOOKS_FILE: file,
      // The global target, from the environment.
      WEBHOOK_URL: `${receiver.url}/all`,
      WEBHOOK_SECRET: SECRETS.all,
      WEBHOOK_RETRY_DELAYS: '300ms,300ms,300ms',
      WEBHOOK_TIMEOUT_MS: '2s',
    });
  });
  after(async () => {
    await rig?.stop();
    await receiver?.close();
    await dir?.remove();
  });

  it("posts a signed message.created to the global target and to the targets of the mailbox's domain", async () => {
    const { message, counts } = await storeMessage(rig.nc, { did: 'example.org', uid: 'alice' }, smallWav(1.5), {
      sender: 'sip:bob@example.net',
      caller: { name: 'Bob', withheld: false },
    });
    await waitFor(() => receiver.at('/crm').length === 1 && receiver.at('/all').length === 1, 10_000, 'both targets to be posted');
    const [crm, all] = [receiver.at('/crm')[0]!, receiver.at('/all')[0]!];
    assert.ok(verifiedByReceiver(SECRETS.crm, crm.raw, String(crm.headers['sipvm-signature'])), 'signed with the crm secret');
    assert.ok(verifiedByReceiver(SECRETS.all, all.raw, String(all.headers['sipvm-signature'])), 'signed with the global secret');
    assert.ok(!verifiedByReceiver(SECRETS.all, crm.raw, String(crm.headers['sipvm-signature'])), "not with another target's secret");
    assert.equal(crm.headers['sipvm-event'], 'message.created');
    assert.equal(crm.headers['content-type'], 'application/json');
    const body = JSON.parse(crm.raw) as MessageWebhookBody;
    rig.conformance.checkWebhook('messageCreated', body);
    assert.equal(crm.headers['sipvm-delivery'], body.deliveryId);
    assert.deepEqual(body.mailbox, { did: 'example.org', uid: 'alice' });
    assert.deepEqual(body.message, {
      id: message.id,
      sender: 'sip:bob@example.net',
      caller: { name: 'Bob', withheld: false },
      recordedAt: message.recordedAt,
      durationMs: 1500,
      codec: 'PCMU',
      urgent: false,
      size: message.size,
    });
    assert.deepEqual(body.counts, counts);
    assert.notEqual(JSON.parse(all.raw).deliveryId, body.deliveryId, 'one delivery per target');

    await storeMessage(rig.nc, { did: 'other.example', uid: 'dave' }, smallWav(1));
    await waitFor(() => receiver.at('/all').length === 2, 10_000, 'the global target to hear of the other domain');
    assert.equal(receiver.at('/crm').length, 1, 'the crm target hears of its domain only');
  });

  it('posts message.transcribed with what the caller said when the transcript arrives, once', async () => {
    const mailbox = { did: 'example.org', uid: 'grace' };
    const { message } = await storeMessage(rig.nc, mailbox, smallWav(1.5), { sender: 'sip:bob@example.net' });
    await waitFor(() => receiver.at('/crm').some((r) => (JSON.parse(r.raw) as MessageWebhookBody).message.id === message.id), 10_000, 'message.created');
    const transcript = { status: 'done', text: 'please call me back', language: 'en', engine: 'whisper-1', at: new Date().toISOString() } as const;
    await request(rig.nc, StorageApi.setTranscript, { mailbox, id: message.id, transcript });
    // Set again (a transcriber's retry): the same event, posted once.
    await request(rig.nc, StorageApi.setTranscript, { mailbox, id: message.id, transcript });
    const transcribed = () => receiver.at('/crm').filter((r) => r.headers['sipvm-event'] === 'message.transcribed');
    await waitFor(() => transcribed().length === 1, 10_000, 'message.transcribed to be posted');
    const post = transcribed()[0]!;
    assert.ok(verifiedByReceiver(SECRETS.crm, post.raw, String(post.headers['sipvm-signature'])));
    const body = JSON.parse(post.raw) as WebhookBody;
    rig.conformance.checkWebhook('messageTranscribed', body);
    assert.equal(body.type, 'message.transcribed');
    assert.deepEqual(body.message, {
      id: message.id,
      sender: 'sip:bob@example.net',
      recordedAt: message.recordedAt,
      durationMs: 1500,
      codec: 'PCMU',
      urgent: false,
      size: message.size,
      transcript,
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(transcribed().length, 1, 'posted once');
  });

  it('retries a failing receiver with backoff until it accepts, with the same delivery', async () => {
    await storeMessage(rig.nc, { did: 'flaky.example', uid: 'erin' }, smallWav(1));
    await waitFor(() => receiver.at('/flaky').some((r) => r.status === 204), 15_000, 'the flaky receiver to accept');
    const posts = receiver.at('/flaky');
    assert.deepEqual(
      posts.map((p) => [p.status, p.headers['sipvm-attempt']]),
      [
        [503, '1'],
        [503, '2'],
        [204, '3'],
      ],
    );
    assert.equal(new Set(posts.map((p) => p.headers['sipvm-delivery'])).size, 1);
    assert.equal(new Set(posts.map((p) => p.raw)).size, 1, 'the same body every time');
    for (const post of posts) assert.ok(verifiedByReceiver(SECRETS.flaky, post.raw, String(post.headers['sipvm-signature'])));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(receiver.at('/flaky').length, 3, 'not posted again once accepted');
  });

  it('reports a delivery whose budget is spent on VM_WEBHOOKS_FAILED, never drops it silently', async () => {
    const { message } = await storeMessage(rig.nc, { did: 'down.example', uid: 'frank' }, smallWav(1));
    const jsm = await jetstreamManager(rig.nc);
    let failed: WebhookFailedEvent | undefined;
    await waitFor(
      async () => {
        try {
          const stored = await jsm.streams.getMessage(STREAMS.webhooksFailed.name, { last_by_subj: STREAMS.webhooksFailed.subjects[0] });
          failed = WebhookFailedEventSchema.parse(stored?.json());
          return failed.messageId === message.id;
        } catch {
          return false;
        }
      },
      15_000,
      'the failure report',
    );
    assert.equal(receiver.at('/down').length, 4, 'the first attempt and three retries');
    assert.equal(failed?.outcome, 'budget-spent');
    assert.equal(failed?.attempts, 4);
    assert.equal(failed?.target, 'down');
    assert.match(failed?.reason ?? '', /HTTP 503: busy, try later/);
    // The log line follows the report, so it may still be on its way through the pipe.
    await waitFor(
      () => /"msg":"webhook could not be delivered; reported on vm.webhook.failed"/.test(rig.web.process.output()),
      5_000,
      'the failure to be logged',
    );
  });

  it('loses nothing when the service restarts in the middle', async () => {
    await storeMessage(rig.nc, { did: 'restart.example', uid: 'grace' }, smallWav(1));
    await waitFor(() => receiver.at('/restart').length === 1, 10_000, 'the first (failed) attempt');
    await rig.web.process.stop();
    // While the service is away: a retry is pending and a new message arrives.
    const { message: second } = await storeMessage(rig.nc, { did: 'restart.example', uid: 'grace' }, smallWav(1));
    await rig.web.restart();
    await waitFor(() => receiver.at('/restart').filter((r) => r.status === 204).length === 2, 15_000, 'both deliveries after the restart');
    const accepted = receiver
      .at('/restart')
      .filter((r) => r.status === 204)
      .map((r) => JSON.parse(r.raw) as MessageWebhookBody);
    assert.equal(new Set(accepted.map((b) => b.deliveryId)).size, 2);
    assert.ok(accepted.some((b) => b.message.id === second.id));
  });

  it('writes no webhook secret into its logs', () => {
    const logs = rig.web.process.output();
    for (const secret of Object.values(SECRETS)) assert.ok(!logs.includes(secret), 'a secret in the logs');
  });
});
