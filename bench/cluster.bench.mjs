// Cluster benchmark (BENCHMARKS.md, through Kamailio): voicemail deposits through Kamailio (deploy/kamailio/) to one sipvm
// node and to two, in one run, and what each part of the platform costs per call.
//
//   npm run bench -- cluster                          40 calls/s offered for 30 s, to 1 node, then 2
//   npm run bench -- cluster --rate 40 --seconds 30 --hold 6 --storage ceph
//
// It starts its own platform, as `npm run test:cluster` does (the harness's startCluster): Kamailio;
// two nodes, each drachtio-server + signaling + rtpengine + media on its own loopback address;
// voicemail, voicebox and storage; three clustered nats-servers (three replicas of every stream and
// bucket); Ceph RGW (or a folder, --storage local). sipp calls the proxy like a phone network
// would (test/sip/scenarios/proxied-deposit.xml: a plain call to the mailbox's owner, who is not
// registered, so the proxy sends it to voicemail with P-App-Param from the profile), each caller
// speaking PCMU from the answer on and hanging up after --hold seconds.
//
// Row "1 node": node B is disabled in Kamailio's dispatcher, every call goes to A. Row "2 nodes":
// both. The offered load is the same, more than one node takes here, so admission control refuses
// (503) what the nodes cannot take, the proxy tries the other node, and the calls answered per
// second are the capacity.
//
// Per row: offered / answered / refused / failed / stored / lost, answered calls per second,
// INVITE→200 and hang-up→stored p50/p99, each node's CPU seconds per call it answered, each
// shared component's CPU seconds per call and share of a core. Then the ratio of the two rows'
// answered calls per second, and for each shared component how many nodes' worth of calls one core
// of it carries (a node's CPU per call / the component's CPU per call): the smallest is the shared
// component that becomes the bottleneck first as nodes are added.
//
// Options: --rate 40  --seconds 30  --hold 6  --greeting-ms 2000  --storage ceph|local
//   --mailboxes 100 (callers call this many mailboxes in turn; 1 is every caller filling one mailbox)
//   --limit N (sipp -l, concurrent calls)  --drain-s 120
//   --deposit-concurrency N (the voicemail service's VM_DEPOSIT_CONCURRENCY; default its own, 4)
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { request, setJetStreamReplicas, StorageApi } from '@sipvm/contracts';
import { PROXIED_DEPOSIT_SCENARIO, speechWav, startCluster } from '@sipvm/harness';
import { sampleProcesses, withDescendants } from './lib/processes.mjs';
import { notStored, observeCalls, p50p99, putGreeting, runSippLoadMeasured, waitForDrain } from './lib/deposits.mjs';

const { values: options } = parseArgs({
  options: {
    rate: { type: 'string', default: '40' },
    seconds: { type: 'string', default: '30' },
    hold: { type: 'string', default: '6' },
    'greeting-ms': { type: 'string', default: '2000' },
    storage: { type: 'string', default: 'ceph' },
    limit: { type: 'string', default: '10000' },
    'drain-s': { type: 'string', default: '120' },
    'deposit-concurrency': { type: 'string' },
    mailboxes: { type: 'string', default: '100' },
  },
});
const rate = Number(options.rate);
const calls = Math.round(rate * Number(options.seconds));
const holdS = Number(options.hold);
const DOMAIN = 'example.org';
const MAILBOXES = Number(options.mailboxes);
const ROWS = [
  { nodes: 1, user: 'one-node' },
  { nodes: 2, user: 'two-nodes' },
].map((row) => ({ ...row, users: Array.from({ length: MAILBOXES }, (_, i) => `${row.user}-${i + 1}`) }));

if (spawnSync('sipp', ['-v']).error || spawnSync('kamailio', ['-v']).error) {
  console.error('cluster: sipp and kamailio are needed (`npm run setup` installs them)');
  process.exit(1);
}

const work = await mkdtemp(join(tmpdir(), 'sipvm-bench-cluster-'));
const cluster = await startCluster({
  storage: options.storage === 'local' ? 'local' : 'ceph',
  profiles: ROWS.flatMap((row) => row.users.map((username) => ({ username, domain: DOMAIN, mode: 'box' }))),
  // 4 ports per call at once, for every call the offered rate and hold can keep open.
  rtpPorts: Math.max(400, 4 * Math.ceil(rate * (holdS + 6)) * 2),
  ...(options['deposit-concurrency'] ? { voicemailEnv: { VM_DEPOSIT_CONCURRENCY: options['deposit-concurrency'] } } : {}),
});
// As the benchmark's own NATS identity (packages/contracts/src/permissions.ts: bench).
const nc = await cluster.nats.connect({ identity: 'bench', name: 'bench-cluster', maxReconnectAttempts: -1 });
setJetStreamReplicas(Number(cluster.natsEnv.JETSTREAM_REPLICAS));
const jsm = await jetstreamManager(nc);

try {
  const speech = await speechWav(join(work, 'speech.wav'), holdS + 4);
  await putGreeting(
    nc,
    ROWS.flatMap((row) => row.users.map((uid) => ({ uid, did: DOMAIN }))),
    Number(options['greeting-ms']),
    work,
  );
  console.log(
    `Kamailio at ${cluster.proxy.target}; nodes ${cluster.nodes.map((n) => `${n.signalingInstance} ${n.sip}`).join(', ')}; NATS ×${cluster.nats.servers.length}; storage ${options.storage}`,
  );
  console.log(
    `offered: ${rate} calls/s × ${options.seconds} s = ${calls} calls to ${MAILBOXES} mailboxes in turn, hold ${holdS} s, greeting ${options['greeting-ms']} ms; VM_DEPOSIT_CONCURRENCY ${options['deposit-concurrency'] ?? '4 (default)'}; machine: ${cpus().length} cores`,
  );
  const results = [];
  for (const row of ROWS) {
    await setNodes(row.nodes);
    results.push(await runRow(row, speech));
  }
  report(results);
} finally {
  await nc.close();
  await cluster.close();
  await rm(work, { recursive: true, force: true });
}

/** Only the first `count` nodes in the dispatcher's rotation (the others disabled, as an operator would). */
async function setNodes(count) {
  for (const [i, node] of cluster.nodes.entries()) await cluster.proxy.rpc('dispatcher.set_state', i < count ? 'a' : 'd', '1', `sip:${node.sip}`);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const states = await cluster.proxy.nodeStates();
    if (cluster.nodes.every((n, i) => (i < count ? states[n.sip] === 'AP' : states[n.sip]?.startsWith('D')))) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the dispatcher does not show ${count} node(s) in rotation: ${JSON.stringify(await cluster.proxy.nodeStates())}`);
}

async function runRow(row, speech) {
  console.log(`\n## ${row.nodes} node${row.nodes > 1 ? 's' : ''}: ${rate} calls/s × ${calls}`);
  const seen = observeCalls(nc);
  const nodeProcesses = cluster.nodes.map((node) => withDescendants(node.pids().map((p) => ({ ...p, role: `${node.name}:${p.role}` }))));
  const sharedProcesses = withDescendants(cluster.sharedPids());
  const sampler = sampleProcesses([...nodeProcesses.flat(), ...sharedProcesses]);
  const started = Date.now();
  const sipp = await runSippLoadMeasured({
    target: cluster.proxy.target,
    rate,
    calls,
    limit: Number(options.limit),
    holdMs: holdS * 1000,
    speech,
    mailbox: { uid: row.users[0], did: DOMAIN },
    users: row.users,
    scenario: PROXIED_DEPOSIT_SCENARIO,
  });
  const sippDone = Date.now();
  const drained = await waitForDrain(jsm, seen, Number(options['drain-s']) * 1000);
  const costs = sampler.stop();
  const wallS = (Date.now() - started) / 1000;
  seen.stop();
  let stored = 0;
  for (const uid of row.users) {
    const { counts } = await request(nc, StorageApi.countMailbox, { mailbox: { uid, did: DOMAIN } });
    stored += counts.new + counts.saved;
  }
  const answered = [...seen.calls.values()].filter((c) => row.users.includes(c.mailbox));
  const { lost, reasons } = notStored(answered);
  const hangupToStored = answered.filter((c) => c.storedAt && c.endedAt).map((c) => c.storedAt - c.endedAt);
  const byNode = Object.fromEntries(cluster.nodes.map((n) => [n.name, answered.filter((c) => c.node === n.signalingInstance).length]));
  // The calls were offered for this long; what was answered in it is the capacity.
  const offeredS = calls / rate;

  console.log(
    `sipp: ${sipp.created} placed, ${sipp.answered} answered, ${sipp.refused} refused (503 from the proxy: no node could take it), ${sipp.failed} failed${sipp.failures ? ` — ${sipp.failures}` : ''}`,
  );
  console.log(
    `platform: ${answered.length} calls answered (${Object.entries(byNode)
      .map(([n, k]) => `${k} on ${n}`)
      .join(', ')}), ${stored} messages stored, ${lost.length} answered calls not stored${drained ? '' : ' — QUEUE DID NOT EMPTY in time'}`,
  );
  for (const [why, n] of [...reasons].sort((x, y) => y[1] - x[1])) console.log(`  not stored: ${n} × ${why}`);
  console.log(
    `answered ${(answered.length / offeredS).toFixed(1)} calls/s; INVITE→200 ${p50p99(sipp.inviteToAnswerMs)}; hang-up→stored ${p50p99(hangupToStored)}; sipp ran ${((sippDone - started) / 1000).toFixed(1)} s, queues empty ${((Date.now() - sippDone) / 1000).toFixed(1)} s later`,
  );

  const cpu = (role) => costs.get(role)?.cpuSeconds ?? 0;
  const perNode = cluster.nodes.map((node, i) => {
    const roles = [...new Set(nodeProcesses[i].map((p) => p.role))];
    const seconds = roles.reduce((sum, role) => sum + cpu(role), 0);
    return { node, roles, seconds, calls: byNode[node.name] };
  });
  // Servers of one role (the NATS cluster's), not the worker processes of one (Kamailio's).
  const shared = new Map();
  for (const role of new Set(sharedProcesses.map((p) => p.role)))
    shared.set(role, { seconds: cpu(role), count: cluster.sharedPids().filter((p) => p.role === role).length });
  console.log('process                       CPU s/call   % of a core');
  for (const { node, roles, seconds, calls: taken } of perNode) {
    const perCall = (value) => (taken ? (value / taken).toFixed(4) : '—');
    for (const role of roles) console.log(`${role.padEnd(28)} ${perCall(cpu(role)).padStart(11)} ${((100 * cpu(role)) / wallS).toFixed(1).padStart(13)}`);
    console.log(`${`node ${node.name} (per call it took)`.padEnd(28)} ${perCall(seconds).padStart(11)} ${((100 * seconds) / wallS).toFixed(1).padStart(13)}`);
  }
  for (const [role, { seconds, count }] of [...shared].sort((x, y) => y[1].seconds - x[1].seconds)) {
    console.log(
      `${`${role}${count > 1 ? ` ×${count}` : ''}`.padEnd(28)} ${(seconds / answered.length).toFixed(4).padStart(11)} ${((100 * seconds) / wallS).toFixed(1).padStart(13)}`,
    );
  }
  console.log(
    `${'sipp (the callers)'.padEnd(28)} ${(sipp.cpuSeconds / answered.length).toFixed(4).padStart(11)} ${((100 * sipp.cpuSeconds) / wallS).toFixed(1).padStart(13)}`,
  );
  return {
    row,
    sipp,
    answered: answered.length,
    stored,
    lost: lost.length,
    perSecond: answered.length / offeredS,
    byNode,
    inviteToAnswer: p50p99(sipp.inviteToAnswerMs),
    hangupToStored: p50p99(hangupToStored),
    nodeCpuPerCall: perNode.filter((n) => n.calls > 0).map((n) => ({ name: n.node.name, perCall: n.seconds / n.calls })),
    shared: new Map([...shared].map(([role, { seconds, count }]) => [role, { perCall: seconds / answered.length, coreShare: seconds / wallS, count }])),
  };
}

function report(results) {
  const [one, two] = results;
  console.log(
    '\n| nodes | offered | answered | refused | failed | stored | lost | answered calls/s | by node | INVITE→200 p50/p99 | hang-up→stored p50/p99 | node CPU s/call |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.row.nodes} | ${rate}/s × ${calls} | ${r.answered} | ${r.sipp.refused} | ${r.sipp.failed} | ${r.stored} | ${r.lost} | ${r.perSecond.toFixed(1)} | ${Object.entries(
        r.byNode,
      )
        .map(([n, k]) => `${n} ${k}`)
        .join(', ')} | ${r.inviteToAnswer} | ${r.hangupToStored} | ${r.nodeCpuPerCall.map((n) => `${n.name} ${n.perCall.toFixed(4)}`).join(', ')} |`,
    );
  }
  console.log(`\ntwo nodes / one node, answered calls per second: ${(two.perSecond / one.perSecond).toFixed(2)}`);
  // A node's cost per call, from the two-node row (both nodes at work), against each shared part.
  const nodePerCall = two.nodeCpuPerCall.reduce((sum, n) => sum + n.perCall, 0) / two.nodeCpuPerCall.length;
  console.log(`\n| shared component | CPU s/call (1 node) | CPU s/call (2 nodes) | share of a core (2 nodes) | nodes' worth of calls one core of it carries |`);
  console.log('|---|---|---|---|---|');
  const rows = [...two.shared].sort((x, y) => y[1].perCall - x[1].perCall);
  for (const [role, s] of rows) {
    const before = one.shared.get(role);
    const perInstance = s.perCall / Math.max(1, s.count);
    console.log(
      `| ${role}${s.count > 1 ? ` (×${s.count}, per server)` : ''} | ${(before ? before.perCall / Math.max(1, before.count) : NaN).toFixed(4)} | ${perInstance.toFixed(4)} | ${((100 * s.coreShare) / Math.max(1, s.count)).toFixed(0)} % | ${(nodePerCall / perInstance).toFixed(1)} |`,
    );
  }
  console.log(`| a node (drachtio, signaling, rtpengine, media) | ${one.nodeCpuPerCall[0]?.perCall.toFixed(4)} | ${nodePerCall.toFixed(4)} | — | 1 |`);
}
