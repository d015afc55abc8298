/**
 * SIP mutation fuzzing against drachtio-server and signaling, for a bounded time (SIP_FUZZ_SECONDS,
 * default 30; SIP_FUZZ_SEED replays a run). Two thirds of the time the requests come from a
 * stranger (127.0.0.2), the rest from the trusted proxy (127.0.0.1), whose P-App headers reach the
 * parameter parser. What must hold: neither process dies and both still answer OPTIONS; a stranger
 * gets only 4xx–6xx replies or silence to an INVITE or SUBSCRIBE, never a 2xx, and no call starts;
 * no request makes signaling fail internally (its own 500, or a step that throws), and no
 * message's headers reach its log. Calls the proxy's requests open are ended at once. Media is the
 * FAKE responder (media-fake.ts).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { sipRequest, SipUdpClient, type SipReply } from '@sipvm/harness';
import { e2eSkipReason, useSignalingRig } from '../rig.js';
import { SipMutator } from './sip-mutator.js';

const skip = e2eSkipReason();
const SECONDS = Number(process.env.SIP_FUZZ_SECONDS ?? 30);
const SEED = Number(process.env.SIP_FUZZ_SEED ?? randomInt(2 ** 31));

describe(`SIP mutation fuzzing (${SECONDS} s, SIP_FUZZ_SEED=${SEED})`, { skip }, () => {
  const rig = useSignalingRig({}, { media: 'fake', storage: true, drachtioLogLevel: 'notice', applications: 'fake' });
  let proxy: SipUdpClient;
  let stranger: SipUdpClient;
  let signalingDied = false;

  before(async () => {
    proxy = await SipUdpClient.open('127.0.0.1');
    stranger = await SipUdpClient.open('127.0.0.2');
    proxy.target = stranger.target = rig.target;
    void rig.signaling.exited.then(() => (signalingDied = true));
  });
  after(async () => {
    await proxy?.close();
    await stranger?.close();
  });

  /** A clean OPTIONS from the proxy: any final reply means drachtio-server and signaling are alive. */
  const options = async () =>
    (await proxy.exchange(sipRequest({ method: 'OPTIONS', uri: `sip:${rig.target}`, local: proxy.local }), 5_000)).find((r) => r.status >= 200);

  it('survives mutated requests and never lets a stranger in', async () => {
    console.log(`SIP fuzzing for ${SECONDS} s with SIP_FUZZ_SEED=${SEED}`);
    const mutator = new SipMutator(SEED, rig.target);
    const deadline = Date.now() + SECONDS * 1000;
    const strangerUntil = Date.now() + (SECONDS * 1000 * 2) / 3;
    const sent = { stranger: 0, proxy: 0 };
    const byStatus = new Map<string, number>();
    const strangerStarted: unknown[] = [];
    /** The last requests sent, for the report when something breaks. */
    const recent: string[] = [];
    const lastSent = () => recent.map((m, i) => `--- ${recent.length - i} before the end ---\n${JSON.stringify(m.slice(0, 3_000))}`).join('\n');
    const count = (who: string, reply: SipReply | undefined) => {
      const key = `${who} ${reply ? `${reply.status} ${reply.method}` : 'silence'}`;
      byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
    };

    while (Date.now() < deadline) {
      const fromStranger = Date.now() < strangerUntil;
      const client = fromStranger ? stranger : proxy;
      const message = mutator.mutate(mutator.base(client.local));
      recent.push(message);
      if (recent.length > 5) recent.shift();
      const startedBefore = rig.events.filter((e) => e.subject.endsWith('.started')).length;
      const replies = await client.exchange(message, 100);
      const final = replies.find((r) => r.status >= 200);
      count(fromStranger ? 'stranger' : 'proxy', final);
      if (fromStranger) {
        sent.stranger++;
        for (const reply of replies) {
          if (['INVITE', 'SUBSCRIBE'].includes(reply.method) && reply.status >= 200) {
            assert.ok(reply.status >= 400, `a stranger got ${reply.status} ${reply.reason} to:\n${JSON.stringify(message.slice(0, 2_000))}`);
          }
        }
        strangerStarted.push(...rig.events.filter((e) => e.subject.endsWith('.started')).slice(startedBefore));
      } else {
        sent.proxy++;
        if (final && final.method === 'INVITE' && final.status < 300) proxy.hangUp(final, `sip:x@${rig.target}`);
      }
      // Signaling's own 500 (a step that threw) says "Server Internal Error"; drachtio-server's
      // 500 to a message its client library could not parse is a refusal like any other.
      assert.notEqual(
        final?.reason,
        'Server Internal Error',
        `${final?.text.slice(0, 500)}\nin answer to:\n${JSON.stringify(message.slice(0, 2_000))}\n${rig.explain()}`,
      );
      if ((sent.stranger + sent.proxy) % 100 === 0)
        assert.ok(await options(), `no answer to OPTIONS after ${sent.stranger + sent.proxy} requests\n${lastSent()}\n${rig.explain()}`);
      assert.equal(signalingDied, false, `signaling died\n${lastSent()}\n${rig.explain()}`);
      assert.ok(rig.drachtio.alive(), `drachtio-server died\n${lastSent()}\n${rig.explain()}`);
    }

    console.log(`sent ${sent.stranger} requests as a stranger and ${sent.proxy} as the proxy; final replies:`);
    for (const [key, n] of [...byStatus].sort()) console.log(`  ${String(n).padStart(5)}  ${key}`);
    assert.ok(sent.stranger > 100 && sent.proxy > 50, 'enough requests went out');
    assert.ok(
      [...byStatus.keys()].some((key) => /^stranger 403 INVITE/.test(key)),
      'strangers reached the trust step',
    );
    assert.ok(
      [...byStatus.keys()].some((key) => /^proxy 400 INVITE/.test(key)),
      'the proxy reached the parameter parser',
    );
    assert.deepEqual(strangerStarted, [], 'no call started for a stranger');
    const logLines = rig.signaling.output().split('\n');
    assert.deepEqual(
      logLines.filter((line) => /handling failed/.test(line)),
      [],
      'no step threw',
    );
    // Refusals name a bad P-App-Param key; a header line or a PIN is what must not show.
    assert.deepEqual(
      logLines.filter((line) => /P-App-[A-Za-z-]*\s*:|pin\s*=\s*\d|80417325/i.test(line)),
      [],
      'no header of the proxy and no PIN in the log, even of a message that could not be parsed',
    );
    await rig.waitFor(async () => (await options())?.status === 200, 'OPTIONS 200 once the fuzzing stopped', 30_000);
    assert.equal(signalingDied, false);
  });
});
