/**
 * Horizontal scaling behind a SIP proxy (deploy/kamailio/README.md), `npm run test:cluster`: Kamailio with the
 * project's configuration (deploy/kamailio/) in front of two nodes — each its own drachtio-server,
 * signaling, rtpengine and media on an address of its own; node B reached over SIP over TLS, as
 * its dispatcher entry says — with voicemail, voicebox and storage shared, three clustered NATS
 * servers (streams and KV with three replicas, routes over TLS with a route password) and Ceph RGW
 * as S3. Callers are sipp and the project's RTP endpoint; they call the proxy like phones, and the
 * proxy adds P-App-Name and P-App-Param from the callee's or caller's profile.
 *
 * What is checked is what an operator relies on: calls spread over the nodes; a message left on
 * one node is heard from the other (the PIN over TLS); the SEMS routes (busy → voicemail, MWI back
 * to the phone, also for a profile with its own uid/did); a node that fails calls with 500 or 504
 * is passed over and one phone's failing SUBSCRIBEs never take a node out; a flood is dropped;
 * a drained node lets its calls finish and gets no new ones; a node killed outright or a NATS
 * server killed loses no message that was recorded, and stores none twice; a server without the
 * route credentials cannot join the NATS cluster.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import { BUCKETS, request, setJetStreamReplicas, stageAudio, stagingBucket, StorageApi, type Mailbox } from '@sipvm/contracts';
import {
  cephMissing,
  freeTcpUdpPort,
  NATS_BIN,
  sipRequest,
  SipUdpClient,
  startFailingSipNode,
  startProcess,
  type FailingSipNode,
  kamailioMissingReason,
  peakToneShare,
  PROXIED_DEPOSIT_SCENARIO,
  RtpEndpoint,
  runSipp,
  runSippLoad,
  sipOptions,
  sleep,
  speechWav,
  startCluster,
  tempDir,
  toneWav,
  udpPortBound,
  waitFor,
  type Cluster,
  type SippLoadResult,
  type TempDir,
  type VoicemailProfile,
} from '@sipvm/harness';
import { e2eSkipReason, SCENARIOS } from '../rig.js';
import { messagesBySender, observe, tally, type CallSeen, type Observer } from './observe.js';
import { nodesInRotation as inRotation, toneGreeting } from './steps.js';

const skip = e2eSkipReason();
const DOMAIN = 'example.org';
const PROFILES: VoicemailProfile[] = [
  { username: 'spread', domain: DOMAIN, mode: 'box' },
  // uid and did of their own: the proxy passes them, storage files the messages under them.
  { username: 'carol', domain: DOMAIN, uid: 'carol-0001', did: 'example-org', mode: 'box', lang: 'en', pin: '4321' },
  { username: 'dave', domain: DOMAIN, mode: 'box' },
  { username: 'drain', domain: DOMAIN, mode: 'box' },
  { username: 'crash', domain: DOMAIN, mode: 'box' },
  { username: 'natsdown', domain: DOMAIN, mode: 'box' },
  { username: 'failover', domain: DOMAIN, mode: 'box' },
  // The callers of each failover round (sipp names its callers alike in each run).
  { username: 'fail500', domain: DOMAIN, mode: 'box' },
  { username: 'fail504', domain: DOMAIN, mode: 'box' },
  // A mailbox under canonical ids: the platform's MWI goes to sip:frank-0001@example-net.
  { username: 'frank', domain: DOMAIN, uid: 'frank-0001', did: 'example-net', mode: 'box' },
];
const mailboxOf = (username: string): Mailbox => {
  const profile = PROFILES.find((p) => p.username === username);
  if (!profile) throw new Error(`no profile ${username}`);
  return { uid: profile.uid ?? profile.username, did: profile.did ?? profile.domain };
};
/** The message's tone; greetings are another one, so that hearing it means hearing the message. */
const MESSAGE_HZ = 1000;
const GREETING_HZ = 400;

describe('sipvm behind Kamailio: two nodes, a NATS cluster, Ceph RGW', { skip }, () => {
  let cluster: Cluster;
  let nc: NatsConnection;
  let seen: Observer;
  let dir: TempDir;
  let speech: string;
  let failing: FailingSipNode;

  before(async () => {
    const missing = [await kamailioMissingReason(), cephMissing().length > 0 ? `Ceph (${cephMissing().join(', ')})` : undefined].filter(Boolean);
    if (missing.length > 0) throw new Error(`the cluster test needs ${missing.join(' and ')}: scripts/setup.sh installs them`);
    dir = await tempDir('cluster');
    speech = await speechWav(join(dir.path, 'speech.wav'), 10);
    failing = await startFailingSipNode('127.0.1.50');
    cluster = await startCluster({
      profiles: PROFILES,
      rtpPorts: 800,
      tlsNodes: ['b'],
      moreDispatcherEntries: [failing.address],
      // A drained node waits this long for its calls (they last seconds here).
      signalingEnv: { SHUTDOWN_TIMEOUT_MS: '40000' },
      voiceboxEnv: { VOICEBOX_INPUT_TIMEOUT_MS: '8s' },
    });
    nc = await cluster.nats.connect({ maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    // This process stages greetings too: its streams must have the cluster's replicas (it would
    // otherwise update them to one copy, on whichever server it talks to).
    setJetStreamReplicas(Number(cluster.natsEnv.JETSTREAM_REPLICAS));
    seen = await observe(cluster.nats);
    await nc.flush();
    for (const username of ['spread', 'carol', 'dave', 'drain', 'crash', 'natsdown', 'fail500', 'fail504']) await shortGreeting(mailboxOf(username));
    await nodesInRotation();
  });

  after(async () => {
    await seen?.stop();
    await nc?.close().catch(() => undefined);
    await cluster?.close();
    await failing?.close();
    await dir?.remove();
  });

  it('spreads 40 calls over both nodes (B over TLS), each taking at least 30 %, and stores every message once', async () => {
    assert.match(cluster.nodes[1]!.sip, /;transport=tls$/, "node B's dispatcher entry is TLS");
    const mailbox = mailboxOf('spread');
    const result = await load(mailbox, { rate: 5, calls: 40, holdMs: 3_000 });
    assert.deepEqual(counts(result), { created: 40, answered: 40, refused: 0, failed: 0 }, result.failures);
    const byNode = tally(seen.callsOf(mailbox), (c) => c.signalingInstance);
    console.log(`calls per node: ${JSON.stringify(byNode)}`);
    for (const node of cluster.nodes)
      assert.ok((byNode[node.signalingInstance] ?? 0) >= 12, `${node.signalingInstance} took ${byNode[node.signalingInstance] ?? 0} of 40`);
    for (const call of seen.callsOf(mailbox)) assert.equal(call.mediaNode, `node-${call.signalingInstance.slice(-1)}`, 'a node answers with its own media');
    const stored = await storedOnce(mailbox, 40);
    assert.equal(stored.size, 40);
  });

  it('a message left through node A is heard in a voicebox call that lands on node B over TLS, its PIN checked there', async () => {
    const [a, b] = cluster.nodes as [Cluster['nodes'][0], Cluster['nodes'][0]];
    const mailbox = mailboxOf('carol');
    await onlyNode(a);
    const deposit = await phoneCall('erin', 'carol', async (phone, call) => {
      await waitFor(() => call.recordingStartedAt !== undefined, 20_000, 'the beep');
      await phone.sendTone(MESSAGE_HZ, 2_000);
      await phone.sendDigits('#');
    });
    assert.deepEqual([deposit.call.signalingInstance, deposit.call.mediaNode], [a.signalingInstance, a.mediaNode]);
    await waitFor(async () => (await messagesBySender(nc, mailbox)).get(`sip:erin@${DOMAIN}`) === 1, 20_000, 'the message in carol-0001@example-org');

    await onlyNode(b);
    try {
      const listen = await phoneCall('carol', '1000', async (phone, call) => {
        // The PIN came from the proxy's profile in P-App-Param, over TLS; the caller types it.
        await phone.sendDigits('4321#');
        let played: { instance: string; playbackId: string } | undefined;
        await waitFor(
          () => (played = seen.plays.find((p) => p.callRef === call.callRef && p.items.some((i) => i.kind === 'message'))) !== undefined,
          30_000,
          'the message to be played',
        );
        await waitFor(() => seen.finished.has(`voicebox/${call.callRef}/${played!.playbackId}`), 30_000, 'the message to end');
        assert.equal(played!.instance, 'media-b', 'node B plays it');
        await phone.sendDigits('*');
      });
      assert.deepEqual([listen.call.app, listen.call.signalingInstance, listen.call.mediaNode], ['voicebox', b.signalingInstance, b.mediaNode]);
      assert.deepEqual(listen.call.mailbox, mailbox, "the caller's own mailbox, from the proxy's profile");
      assert.ok(peakToneShare(listen.heard, MESSAGE_HZ) > 0.8, 'the message was not heard');
    } finally {
      await allNodes();
    }
  });

  it('the SEMS routes: a busy phone sends its caller to voicemail, and the MWI NOTIFY reaches the phone', async () => {
    const mailbox = mailboxOf('dave');
    const phonePort = await freeTcpUdpPort();
    // Three requests reach the phone: the lamp its registration brought (no messages yet), the call it is busy for, the lamp of the message.
    const phone = runSipp({ scenario: join(SCENARIOS, 'phone-busy-mwi.xml'), port: phonePort, calls: 3, timeoutSeconds: 60 });
    // The phone listens before it registers: the lamp its registration brings comes at once.
    await waitFor(() => udpPortBound(phonePort), 10_000, 'the phone (sipp) to listen');
    const registered = await runSipp({
      scenario: join(SCENARIOS, 'phone-register.xml'),
      target: cluster.proxy.target,
      keys: { user: 'dave', domain: DOMAIN, contact_port: String(phonePort) },
    });
    assert.equal(registered.exitCode, 0, registered.errors);
    const caller = await phoneCall('erin', 'dave', async (rtp, call) => {
      await waitFor(() => call.recordingStartedAt !== undefined, 20_000, 'the beep');
      await rtp.sendTone(MESSAGE_HZ, 1_500);
      await rtp.sendDigits('#');
    });
    assert.equal(caller.call.app, 'voicemail');
    const answered = await phone;
    assert.equal(answered.exitCode, 0, `the phone: ${answered.errors}\n${answered.messages.slice(-3000)}`);
    assert.match(answered.messages, /^SIP\/2\.0 486 Busy Here/m);
    assert.match(answered.messages, /^NOTIFY sip:dave@/m);
    assert.match(answered.messages, /^Messages-Waiting: no/m, 'the lamp came when the phone registered');
    assert.match(answered.messages, /^Messages-Waiting: yes/m);
    assert.match(answered.messages, /^Voice-Message: 1\/0/m);
    assert.equal((await messagesBySender(nc, mailbox)).get(`sip:erin@${DOMAIN}`), 1);
  });

  it('MWI for a profile with its own uid and did reaches the phone of its address of record, over TLS from the node', async () => {
    const phone = await SipUdpClient.open('127.0.0.1');
    phone.target = cluster.proxy.target;
    try {
      const tag = Date.now().toString(36);
      const register = [
        `REGISTER sip:${DOMAIN} SIP/2.0`,
        `Via: SIP/2.0/UDP ${phone.local};branch=z9hG4bK${tag}r;rport`,
        'Max-Forwards: 70',
        `From: <sip:frank@${DOMAIN}>;tag=${tag}`,
        `To: <sip:frank@${DOMAIN}>`,
        `Call-ID: ${tag}@frank`,
        'CSeq: 1 REGISTER',
        `Contact: <sip:frank@${phone.local}>`,
        'Expires: 300',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      assert.equal((await phone.exchange(register)).at(-1)?.status, 200, 'frank registered');
      const audio = await stageAudio(
        await stagingBucket(nc),
        `cluster-mwi-${process.pid}`,
        (async function* () {
          yield toneWav(MESSAGE_HZ, 1_000);
        })(),
      );
      await request(nc, StorageApi.createMessage, {
        mailbox: mailboxOf('frank'),
        sender: `sip:erin@${DOMAIN}`,
        recordedAt: new Date().toISOString(),
        durationMs: 1_000,
        codec: 'PCMU',
        urgent: false,
        audio,
      });
      // The platform addresses sip:frank-0001@example-net (MWI_TARGET_TEMPLATE's default); the proxy
      // finds the profile with that uid and did, and the phone registered for it.
      let notify: string | undefined;
      await waitFor(
        () => (notify = phone.requests.find((r) => r.startsWith('NOTIFY ') && /^Messages-Waiting: yes/m.test(r))) !== undefined,
        20_000,
        'the MWI NOTIFY at the phone',
      );
      assert.match(notify!, /^Voice-Message: 1\/0/m);
      assert.match(notify!, /^Message-Account: sip:frank-0001@example-net/m);
      assert.match(notify!, /^Via: SIP\/2\.0\/TLS 127\.0\.1\.\d+/m, 'the node sent it over TLS (from an ephemeral port)');
    } finally {
      await phone.close();
    }
  });

  it("a node that fails calls with 500 or 504 is passed over, and one phone's failing SUBSCRIBEs never take a node out", async () => {
    const [a, b] = cluster.nodes as [Cluster['nodes'][0], Cluster['nodes'][0]];
    // B and the failing node share the calls, round robin.
    await cluster.proxy.rpc('dispatcher.set_state', 'a', '1', `sip:${failing.address}`);
    await cluster.proxy.rpc('dispatcher.set_state', 'd', '1', `sip:${a.sip}`);
    try {
      await waitFor(async () => (await cluster.proxy.nodeStates())[failing.address] === 'AP', 10_000, 'the failing node in the rotation');
      failing.failWith(500);
      const phone = await SipUdpClient.open('127.0.0.1');
      phone.target = cluster.proxy.target;
      try {
        for (let i = 0; i < 6; i++) {
          const subscribe = sipRequest({
            method: 'SUBSCRIBE',
            uri: `sip:failover@${DOMAIN}`,
            local: phone.local,
            headers: { Event: 'message-summary', Expires: '60', Accept: 'application/simple-message-summary' },
          }).replace(/^From: .*$/m, `From: <sip:failover@${DOMAIN}>;tag=s${i}`);
          assert.equal((await phone.exchange(subscribe, 8_000)).at(-1)?.status, 200, `SUBSCRIBE ${i} was taken by B`);
        }
      } finally {
        await phone.close();
      }
      const refusedSubscribes = failing.refused()['SUBSCRIBE 500'] ?? 0;
      assert.ok(refusedSubscribes >= 2, `the failing node refused ${refusedSubscribes} SUBSCRIBEs`);
      assert.equal((await cluster.proxy.nodeStates())[failing.address], 'AP', 'SUBSCRIBE failures took the node out');

      for (const status of [500, 504]) {
        await waitFor(async () => (await cluster.proxy.nodeStates())[failing.address] === 'AP', 15_000, 'the failing node back in the rotation');
        failing.failWith(status);
        const mailbox = mailboxOf(`fail${status}`);
        const result = await load(mailbox, { rate: 2, calls: 6, holdMs: 5_000 });
        assert.deepEqual(counts(result), { created: 6, answered: 6, refused: 0, failed: 0 }, result.failures);
        assert.ok((failing.refused()[`INVITE ${status}`] ?? 0) >= 1, `no call met the ${status}: ${JSON.stringify(failing.refused())}`);
        assert.ok(seen.callsOf(mailbox).every((c) => c.signalingInstance === b.signalingInstance));
        await storedOnce(mailbox, 6);
      }
      console.log(`failover: the failing node refused ${JSON.stringify(failing.refused())}; every caller was answered by B`);
    } finally {
      await cluster.proxy.rpc('dispatcher.set_state', 'd', '1', `sip:${failing.address}`);
      await allNodes();
    }
  });

  it('a flood from one address is dropped by the proxy while everyone else is served', async () => {
    const flooder = await SipUdpClient.open('127.0.0.9');
    flooder.target = cluster.proxy.target;
    const options = () => sipRequest({ method: 'OPTIONS', uri: `sip:flood@${DOMAIN}`, local: flooder.local });
    try {
      const sent = 2_000;
      for (let i = 0; i < sent; i++) flooder.send(options());
      await sleep(1_000);
      const answered = flooder.replies.length;
      console.log(`flood: ${sent} requests in a burst from 127.0.0.9, ${answered} answered`);
      assert.ok(answered > 0 && answered < sent / 2, `${answered} of ${sent} answered`);
      assert.equal((await flooder.exchange(options(), 1_000)).length, 0, 'the flooder is ignored for a while');
      assert.equal(await sipOptions(cluster.proxy.host, cluster.proxy.port), 200, 'others are answered');
      assert.deepEqual(Object.values(await cluster.proxy.nodeStates()).filter((state) => state === 'AP').length, cluster.nodes.length);
      // Once it calms down, it is heard again.
      await waitFor(async () => (await flooder.exchange(options(), 1_000)).length > 0, 30_000, 'the flooder to be heard again');
    } finally {
      await flooder.close();
    }
  });

  it('drains node A as its preStop hook does: OPTIONS get 503 at once, new calls go to B, and its calls in progress finish with their messages stored', async () => {
    const [a, b] = cluster.nodes as [Cluster['nodes'][0], Cluster['nodes'][0]];
    const mailbox = mailboxOf('drain');
    const running = load(mailbox, { rate: 4, calls: 24, holdMs: 8_000 });
    await waitFor(() => seen.callsOf(mailbox).filter((c) => c.signalingInstance === a.signalingInstance).length >= 3, 15_000, 'node A to take calls');
    const drainedAt = Date.now();
    // The first thing the node pod's preStop does (deploy/k8s/node.yaml, drain-hook.js).
    const drain = await fetch(`http://127.0.0.1:${a.signaling.httpPort}/drain`, { method: 'POST' });
    assert.equal(drain.status, 202);
    assert.equal(await sipOptions(a.host, a.drachtio.sipPort), 503, 'node A answers OPTIONS with 503 from the moment it drains');
    await waitFor(async () => (await cluster.proxy.nodeStates())[a.sip] !== 'AP', 5_000, 'the proxy to take node A out');
    const result = await running;
    const inFlight = async () => ((await (await fetch(`http://127.0.0.1:${a.signaling.httpPort}/drain`)).json()) as { inFlight: number }).inFlight;
    await waitFor(async () => (await inFlight()) === 0, 45_000, "node A's calls to end");
    // Then Kubernetes sends SIGTERM: nothing is left to wait for.
    process.kill(a.signaling.pid, 'SIGTERM');
    const exitCode = await Promise.race([a.signaling.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 10_000))]);

    assert.deepEqual(counts(result), { created: 24, answered: 24, refused: 0, failed: 0 }, result.failures);
    assert.equal(exitCode, 0, 'signaling A exits cleanly once its calls are over');
    const calls = seen.callsOf(mailbox);
    const onA = calls.filter((c) => c.signalingInstance === a.signalingInstance);
    // An INVITE that reached A just before the drain is still answered there.
    const later = calls.filter((c) => c.startedAt > drainedAt + 1_000);
    console.log(
      `drain: ${onA.length} calls on A (${onA.filter((c) => c.startedAt > drainedAt).length} of them after SIGTERM), ${later.length} started later, all on ${JSON.stringify(tally(later, (c) => c.signalingInstance))}`,
    );
    assert.ok(later.length >= 5, `calls after the drain: ${later.length}`);
    assert.ok(
      later.every((c) => c.signalingInstance === b.signalingInstance),
      'a call went to the draining node',
    );
    const stored = await storedOnce(mailbox, 24);
    for (const call of onA) assert.equal(stored.get(call.sender), 1, `${call.sender} (on A, in progress while it drained) has no message`);

    await a.startSignaling();
    await nodesInRotation();
  });

  it('kill -9 of everything on node A during load: every call is stored once, or failed before the beep and nothing is stored', async () => {
    const [a, b] = cluster.nodes as [Cluster['nodes'][0], Cluster['nodes'][0]];
    const mailbox = mailboxOf('crash');
    const running = load(mailbox, { rate: 5, calls: 30, holdMs: 6_000 });
    // Recording on A when it dies, for long enough to be messages (1 s is the minimum): they are on A's disk only.
    const recordingOnA = () =>
      seen
        .callsOf(mailbox)
        .filter((c) => c.signalingInstance === a.signalingInstance && c.recordingStartedAt !== undefined && Date.now() - c.recordingStartedAt > 2_000);
    await waitFor(() => recordingOnA().length >= 2, 20_000, 'node A to record callers');
    const killedAt = Date.now();
    await a.killAll();
    const result = await running;
    // Its supervisor brings the node back: same addresses and folders, a new media instance.
    await a.restart();
    await nodesInRotation();

    const calls = () => seen.callsOf(mailbox);
    const onA = () => calls().filter((c) => c.signalingInstance === a.signalingInstance);
    // The new media finds the calls its rtpengine lost and ends them; the hand-overs follow.
    await waitFor(() => onA().every((c) => c.endedAt !== undefined), 30_000, "node A's calls to end after its restart");
    await waitFor(() => calls().every((c) => c.recordingStartedAt === undefined || c.outcome !== undefined), 60_000, 'an outcome for every recording');
    const stored = await messagesBySender(nc, mailbox);

    console.log(
      `kill -9: sipp ${JSON.stringify(counts(result))}; calls on A ${onA().length} (recording at the kill: ${onA().filter((c) => c.recordingStartedAt !== undefined && c.recordingStartedAt < killedAt).length}), ` +
        `on B ${calls().length - onA().length}; outcomes ${JSON.stringify(tally(calls(), (c) => c.outcome ?? 'none (no recording)'))}`,
    );
    assert.equal(result.created, 30);
    // Every caller was answered: those A could not take any more were taken by B (the proxy retried).
    assert.equal(result.answered, 30, result.failures);
    assert.equal(new Set(calls().map((c) => c.sender)).size, 30, 'every caller has a call on a node');
    for (const [sender, count] of stored) assert.equal(count, 1, `${sender} stored ${count} times`);
    for (const call of calls()) {
      const what = `${call.sender} on ${call.signalingInstance}, recording ${call.recordingStartedAt ? `from ${call.recordingStartedAt - killedAt} ms after the kill` : 'never started'}`;
      if (call.recordingStartedAt !== undefined) {
        // Heard the beep: the message is stored, unless it was too short to be one (under 1 s).
        assert.ok(call.outcome === 'stored' || call.outcome === 'discarded-short', `${what}: ${call.outcome}`);
        assert.equal(stored.get(call.sender) ?? 0, call.outcome === 'stored' ? 1 : 0, what);
      } else {
        assert.equal(call.signalingInstance, a.signalingInstance, `${what}: a call on B never reached the beep`);
        assert.ok(call.startedAt < killedAt, what);
        assert.equal(stored.get(call.sender), undefined, what);
      }
    }
    assert.ok(
      onA().some((c) => c.recordingStartedAt !== undefined && c.recordingStartedAt < killedAt - 1_000 && c.outcome === 'stored'),
      "a message recorded on A before the kill was recovered from A's disk",
    );
    assert.ok(
      calls().some((c) => c.signalingInstance === b.signalingInstance && c.startedAt > killedAt),
      'B took calls after the kill',
    );
  });

  it("the NATS server that leads media's state killed during load: nothing lost, nothing doubled", async () => {
    const mailbox = mailboxOf('natsdown');
    const running = load(mailbox, { rate: 5, calls: 30, holdMs: 5_000 });
    await waitFor(() => seen.callsOf(mailbox).filter((c) => c.recordingStartedAt !== undefined).length >= 5, 20_000, 'callers recording');
    // The server that leads media's state: every new call waits for the election (up to 3 s in media).
    const { cluster: raft } = await (await jetstreamManager(nc)).streams.info(`KV_${BUCKETS.mediaState}`);
    const victim = cluster.nats.servers.find((server) => server.name === raft?.leader);
    assert.ok(victim, `media's state is led by ${raft?.leader}, not a server of the cluster`);
    const killedAt = Date.now();
    await victim.kill();
    const result = await running;
    await victim.start();
    // Every answered caller spoke past the beep: each is one message.
    const stored = await storedOnce(mailbox, result.answered);
    const afterKill = seen.callsOf(mailbox).filter((c) => c.startedAt > killedAt);
    console.log(
      `NATS server killed (${victim.name}, leader of media's state): sipp ${JSON.stringify(counts(result))}, ${stored.size} messages; ${afterKill.length} calls started after the kill`,
    );
    assert.equal(result.created, 30);
    assert.equal(result.failed, 0, result.failures);
    assert.equal(result.answered + result.refused, 30);
    assert.equal(stored.size, result.answered);
  });

  it('a NATS server without the route password, or without a certificate of the cluster CA, cannot join the cluster', async () => {
    const { routes } = cluster.nats;
    const tlsBlock = `tls { cert_file: ${JSON.stringify(routes.tls.certFile)}, key_file: ${JSON.stringify(routes.tls.keyFile)}, ca_file: ${JSON.stringify(routes.tls.caFile)}, verify: true }`;
    const withPassword = routes.urls.map((url) => url.replace('//', `//${routes.user}:${routes.password}@`));
    const attempts: [string, string[], string, number][] = [
      ['a certificate of the cluster CA, no password', routes.urls, tlsBlock, 0],
      ['the password, no certificate', withPassword, '', 0],
      ['both (the control: such a server does join)', withPassword, tlsBlock, 1],
    ];
    for (const [what, urls, tls, expected] of attempts) {
      const rogueDir = await tempDir('nats-rogue');
      const [port, monitorPort, routePort] = [await freeTcpUdpPort(), await freeTcpUdpPort(), await freeTcpUdpPort()];
      const config = join(rogueDir.path, 'rogue.conf');
      await writeFile(
        config,
        [
          `server_name: rogue`,
          `listen: 127.0.0.1:${port}`,
          `http: 127.0.0.1:${monitorPort}`,
          'cluster {',
          '  name: sipvm-test',
          `  listen: 127.0.0.1:${routePort}`,
          `  routes: ${JSON.stringify(urls)}`,
          `  ${tls}`,
          '}',
          '',
        ].join('\n'),
      );
      const rogue = await startProcess({
        name: 'rogue nats-server',
        command: NATS_BIN,
        args: ['-c', config],
        ready: (output) => output().includes('Server is ready'),
      });
      try {
        const routesOf = async (url: string) => ((await (await fetch(`${url}/routez`)).json()) as { num_routes: number }).num_routes;
        if (expected > 0) await waitFor(async () => (await routesOf(`http://127.0.0.1:${monitorPort}`)) >= 1, 10_000, 'the control server to join');
        else await sleep(3_000);
        const joined = await routesOf(`http://127.0.0.1:${monitorPort}`);
        console.log(`NATS route with ${what}: ${joined} routes`);
        if (expected === 0) {
          assert.equal(joined, 0, `a server with ${what} joined the cluster`);
          for (const server of cluster.nats.servers)
            assert.equal(await routesOf(server.monitorUrl), cluster.nats.servers.length - 1, `${server.name} took a route from a server with ${what}`);
        }
      } finally {
        await rogue.stop();
        await rogueDir.remove();
      }
    }
  });

  // --- helpers ---

  async function load(mailbox: Mailbox, o: { rate: number; calls: number; holdMs: number }): Promise<SippLoadResult> {
    const profile = PROFILES.find((p) => mailboxOf(p.username).uid === mailbox.uid)!;
    return runSippLoad({
      target: cluster.proxy.target,
      ...o,
      speech,
      mailbox: { uid: profile.username, did: profile.domain },
      scenario: PROXIED_DEPOSIT_SCENARIO,
    });
  }

  function counts(result: SippLoadResult) {
    return { created: result.created, answered: result.answered, refused: result.refused, failed: result.failed };
  }

  /**
   * How long a hand-over may take at worst after a crash or a NATS server's death: a call end and
   * then a deposit whose acknowledgement was lost come back only after their consumers' ack waits
   * (90 s in the call runtime, 120 s in the deposit processor), plus time to store.
   */
  const HAND_OVER_DEADLINE_MS = 90_000 + 120_000 + 30_000;

  /** Waits for `expected` messages in the mailbox (the hand-overs are done), then checks none is doubled. */
  async function storedOnce(mailbox: Mailbox, expected: number): Promise<Map<string, number>> {
    let stored = new Map<string, number>();
    const total = () => [...stored.values()].reduce((a, b) => a + b, 0);
    await waitFor(
      async () => {
        stored = await messagesBySender(nc, mailbox);
        return total() >= expected;
      },
      HAND_OVER_DEADLINE_MS,
      `${expected} messages in ${mailbox.uid}`,
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message} (${total()} there)\n${cluster.explain()}`);
    });
    for (const [sender, count] of stored) assert.equal(count, 1, `${sender} stored ${count} times`);
    assert.equal(total(), expected);
    return stored;
  }

  /**
   * A phone call through the proxy: `caller`@example.org calls `callee` (a subscriber or a service
   * number), the project's RTP endpoint is the phone, `during` plays the caller's part once the
   * platform took the call; the platform hangs up. Returns what the phone heard and the call.
   */
  async function phoneCall(
    caller: string,
    callee: string,
    during: (phone: RtpEndpoint, call: CallSeen) => Promise<void>,
  ): Promise<{ heard: Int16Array; call: CallSeen }> {
    const phone = await RtpEndpoint.create('PCMU');
    const known = new Set(seen.calls.keys());
    const sipp = runSipp({
      scenario: join(SCENARIOS, 'proxied-call-platform-bye.xml'),
      target: cluster.proxy.target,
      keys: { caller, callee, domain: DOMAIN, rtp_port: String(phone.port) },
      timeoutSeconds: 90,
    });
    try {
      let call: CallSeen | undefined;
      await waitFor(
        () => (call = [...seen.calls.values()].find((c) => !known.has(c.callRef) && c.sender === `sip:${caller}@${DOMAIN}`)) !== undefined,
        15_000,
        `the call from ${caller} to ${callee}`,
      );
      await phone.latchRemote(15_000);
      await during(phone, call!);
      const result = await sipp;
      assert.equal(result.exitCode, 0, `${result.errors}\n${result.messages.slice(-3000)}\n${cluster.explain()}`);
      return { heard: await phone.receivedPcm(), call: call! };
    } finally {
      await sipp.catch(() => undefined);
      phone.close();
    }
  }

  /** A 1.5 s personal greeting, so that callers reach the beep soon. */
  async function shortGreeting(mailbox: Mailbox): Promise<void> {
    await toneGreeting(nc, mailbox, GREETING_HZ);
  }

  async function nodesInRotation(): Promise<void> {
    await inRotation(cluster);
  }

  /** The proxy sends new calls to `node` only (the others disabled, as an operator would). */
  async function onlyNode(node: Cluster['nodes'][0]): Promise<void> {
    for (const other of cluster.nodes) await cluster.proxy.rpc('dispatcher.set_state', other === node ? 'a' : 'd', '1', `sip:${other.sip}`);
    const states = await cluster.proxy.nodeStates();
    assert.ok(states[node.sip]?.startsWith('A'), JSON.stringify(states));
  }

  async function allNodes(): Promise<void> {
    for (const node of cluster.nodes) await cluster.proxy.rpc('dispatcher.set_state', 'a', '1', `sip:${node.sip}`);
    await nodesInRotation();
  }
});
