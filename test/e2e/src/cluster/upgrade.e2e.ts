/**
 * A rolling upgrade under load (README.md, Kubernetes), `npm run test:upgrade`: the cluster of the cluster test
 * (Kamailio in front of two nodes, node B over TLS; voicemail, voicebox, storage and web shared; three
 * clustered NATS servers) takes a steady stream of callers leaving messages through the proxy while
 * every component is replaced in turn, as Kubernetes' rolling updates do it with the manifests of
 * deploy/k8s: each node pod (its preStop hooks drain it, then its processes stop and start again),
 * each shared service (a new instance ready before the old one stops) and each NATS server (lame
 * duck mode, then back with its store, and current again before the next).
 *
 * What must hold is what callers and subscribers see: every call is answered and ends as the
 * caller ends it, every answered caller's message is stored exactly once and announced by one
 * webhook, and a node's refusals are only the 503s of its drain, each retried by the proxy on the
 * other node.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { setJetStreamReplicas, type Mailbox } from '@sipvm/contracts';
import {
  kamailioMissingReason,
  PROXIED_DEPOSIT_SCENARIO,
  runSippLoad,
  sleep,
  speechWav,
  startCluster,
  tempDir,
  waitFor,
  type Cluster,
  type TempDir,
} from '@sipvm/harness';
import { e2eSkipReason } from '../rig.js';
import { messagesBySender, observe, tally, type Observer } from './observe.js';
import { nodesInRotation, toneGreeting } from './steps.js';

const skip = e2eSkipReason();
const DOMAIN = 'example.org';
const MAILBOX: Mailbox = { uid: 'upgrade', did: DOMAIN };
/** Callers a second, and how long each speaks after the beep's greeting: about 20 calls at once. */
const RATE = 3;
const HOLD_MS = 6_000;

describe('a rolling upgrade of every component under load', { skip }, () => {
  let cluster: Cluster;
  let nc: NatsConnection;
  let seen: Observer;
  let dir: TempDir;
  let speech: string;
  let hooks: Server;
  /** Webhook deliveries received, by their Sipvm-Delivery id (a retry repeats the id). */
  const deliveries = new Map<string, number>();

  before(async () => {
    const missing = await kamailioMissingReason();
    if (missing) throw new Error(`the upgrade test needs ${missing}`);
    dir = await tempDir('upgrade');
    speech = await speechWav(join(dir.path, 'speech.wav'), 10);
    hooks = createServer((req, res) => {
      const id = String(req.headers['sipvm-delivery'] ?? '');
      req.resume();
      req.on('end', () => {
        deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
    cluster = await startCluster({
      profiles: [{ username: MAILBOX.uid, domain: DOMAIN, mode: 'box' }],
      storage: 'local',
      rtpPorts: 800,
      tlsNodes: ['b'],
      webEnv: { WEBHOOK_URL: `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/sipvm`, WEBHOOK_SECRET: 'upgrade-test-webhook-secret' },
    });
    nc = await cluster.nats.connect({ maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    setJetStreamReplicas(Number(cluster.natsEnv.JETSTREAM_REPLICAS));
    seen = await observe(cluster.nats);
    await nc.flush();
    await toneGreeting(nc, MAILBOX, 400);
    await nodesInRotation(cluster);
  });

  after(async () => {
    await seen?.stop();
    await nc?.close().catch(() => undefined);
    await cluster?.close();
    await new Promise((resolve) => hooks?.close(resolve));
    await dir?.remove();
  });

  it('every answered call is stored exactly once while each node, each shared service and each NATS server is replaced', async () => {
    let sippPid: number | undefined;
    // A steady load for as long as the upgrade takes: sipp stops placing calls on SIGUSR1 and ends
    // when its calls in progress have.
    const load = runSippLoad({
      target: cluster.proxy.target,
      rate: RATE,
      calls: 100_000,
      holdMs: HOLD_MS,
      speech,
      mailbox: { uid: MAILBOX.uid, did: DOMAIN },
      scenario: PROXIED_DEPOSIT_SCENARIO,
      onSpawn: (pid) => (sippPid = pid),
    });
    const phases: { what: string; began: number; ended: number; detail: unknown }[] = [];
    const phase = async (what: string, step: () => Promise<unknown>) => {
      const began = Date.now();
      const detail = await step();
      phases.push({ what, began, ended: Date.now(), detail });
    };
    const loadBegan = Date.now();
    try {
      await waitFor(() => seen.callsOf(MAILBOX).filter((c) => c.recordingStartedAt !== undefined).length >= 10, 30_000, 'callers recording');
      for (const node of cluster.nodes) {
        await phase(`node ${node.name}`, async () => {
          const { drainedMs } = await node.roll();
          await nodesInRotation(cluster, 60_000);
          return { drainedMs };
        });
      }
      for (const service of ['storage', 'voicemail', 'voicebox', 'web'] as const) await phase(service, () => cluster.rollService(service));
      for (const server of cluster.nats.servers) {
        await phase(`nats ${server.name}`, async () => {
          await server.lameDuck();
          await server.start();
          // Current again (its streams caught up) before the next server goes.
          await waitFor(
            async () =>
              await fetch(`${server.monitorUrl}/healthz`).then(
                (r) => r.ok,
                () => false,
              ),
            60_000,
            `${server.name} current`,
          );
        });
      }
      // Calls placed after the last restart, on the upgraded platform.
      await sleep(5_000);
    } finally {
      if (sippPid !== undefined) process.kill(sippPid, 'SIGUSR1');
    }
    const result = await load;
    const loadSeconds = (Date.now() - loadBegan) / 1000;

    const calls = seen.callsOf(MAILBOX);
    await waitFor(() => calls.every((c) => c.outcome !== undefined), 120_000, 'an outcome for every call').catch((error: unknown) => {
      throw new Error(`${(error as Error).message}: ${JSON.stringify(tally(calls, (c) => c.outcome ?? 'none'))}\n${cluster.explain()}`);
    });
    const stored = await messagesBySender(nc, MAILBOX);
    const total = [...stored.values()].reduce((a, b) => a + b, 0);
    await waitFor(() => deliveries.size >= total, 60_000, `a webhook for each of ${total} messages`).catch(() => undefined);
    // What the proxy retried: each node refusal it logged, with its status.
    const retried = [...cluster.proxy.output().matchAll(/sipvm node sip:(\S+) did not take INVITE \S+ \((\d+)\)/g)].map((m) => ({
      node: m[1]!,
      status: m[2]!,
    }));
    // Requests asked again for want of an answer (replies.ts), by the processes that began after
    // the last restart of their own: how often NATS lost one while its servers were replaced.
    const repeated = {
      voicemail: await cluster.voicemail.metric('sipvm_requests_repeated_total'),
      signaling: (await Promise.all(cluster.nodes.map((n) => n.signaling.metric('sipvm_requests_repeated_total')))).reduce((a, b) => a + b, 0),
    };
    /** Calls in progress at some moment of a phase: the restart happened under load. */
    const during = (p: (typeof phases)[0]) => calls.filter((c) => c.startedAt < p.ended && (c.endedAt ?? Infinity) > p.began).length;
    console.log(
      `upgrade: sipp ${JSON.stringify({ created: result.created, answered: result.answered, refused: result.refused, failed: result.failed })}; ` +
        `${total} messages stored (${stored.size} callers); outcomes ${JSON.stringify(tally(calls, (c) => c.outcome ?? 'none'))}; ` +
        `calls per node ${JSON.stringify(tally(calls, (c) => c.signalingInstance))}; ` +
        `INVITEs a node refused and the proxy retried on the other: ${retried.length} ${JSON.stringify(tally(retried, (r) => `${r.status}`))}; ` +
        `webhooks ${deliveries.size} (${[...deliveries.values()].filter((n) => n > 1).length} delivered twice); ` +
        `requests asked again ${JSON.stringify(repeated)}; ${loadSeconds.toFixed(0)} s of load\n  ` +
        phases
          .map(
            (p) => `${p.what}: ${((p.ended - p.began) / 1000).toFixed(1)} s, ${during(p)} calls in progress${p.detail ? ` ${JSON.stringify(p.detail)}` : ''}`,
          )
          .join('\n  '),
    );

    // A steady load, and every restart under it.
    assert.ok(result.created >= RATE * loadSeconds * 0.7, `${result.created} calls in ${loadSeconds.toFixed(0)} s at ${RATE} a second`);
    for (const p of phases) assert.ok(during(p) >= 5, `${p.what} was replaced with ${during(p)} calls in progress`);
    assert.deepEqual(
      { refused: result.refused, failed: result.failed },
      { refused: 0, failed: 0 },
      `callers saw a refusal or a failure: ${result.failures}\n${cluster.explain()}`,
    );
    assert.equal(result.answered, result.created, 'every call was answered');
    assert.equal(calls.length, result.answered, 'every answered call is a call of the platform');
    for (const call of calls) {
      assert.equal(call.outcome, 'stored', `${call.sender} on ${call.signalingInstance}: ${call.outcome}`);
      assert.equal(call.endReason, 'caller-hangup', `${call.sender} on ${call.signalingInstance} ended by ${call.endReason}`);
      assert.equal(stored.get(call.sender), 1, `${call.sender}: ${stored.get(call.sender) ?? 0} messages`);
    }
    assert.equal(total, result.answered, 'one message per answered call');
    assert.ok(
      retried.every((r) => r.status === '503'),
      `a node refused with something other than 503: ${JSON.stringify(retried)}`,
    );
    assert.equal(deliveries.size, total, 'one webhook per message');
  });
});
