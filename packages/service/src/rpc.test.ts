/**
 * Request/reply between services (contracts' rpc.ts and replies.ts) against a real nats-server:
 * each answer reaches the request it belongs to, and every way of getting no answer is told
 * apart, as `service-unavailable`; a connection that moves keeps its requests waiting for their answers;
 * a request that may be asked again survives its loss, and its repeats do the work once.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/nats-core';
import { z } from 'zod';
import { encodeJson, endpoint, inboxPrefix, MediaApi, request, serve, ServiceError } from '@sipvm/contracts';
import { startNats, type NatsServer } from '@sipvm/harness';
import { createRegistry } from './metrics.js';

const Echo = endpoint(
  'vm.test.echo',
  z.strictObject({ text: z.string().max(20), times: z.number().int().min(1).default(1) }),
  z.strictObject({ echoed: z.string() }),
);
const Silent = endpoint('vm.test.silent', z.strictObject({}), z.strictObject({}), 30_000);
const Nobody = endpoint('vm.test.nobody', z.strictObject({}), z.strictObject({}));
const Slow = endpoint('vm.test.slow', z.strictObject({ text: z.string() }), z.strictObject({ echoed: z.string() }), 10_000);
const Broken = endpoint('vm.test.broken', z.strictObject({}), z.strictObject({ count: z.number() }));

const failure = (kind: ServiceError['kind'], message: RegExp) => (error: unknown) =>
  error instanceof ServiceError && error.kind === kind && message.test(error.message);

describe('request and serve', () => {
  let nats: NatsServer;
  let server: NatsConnection;
  let client: NatsConnection;

  before(async () => {
    nats = await startNats();
    server = await nats.connect({ maxReconnectAttempts: -1, reconnectTimeWait: 50 });
    client = await nats.connect({ maxReconnectAttempts: -1, reconnectTimeWait: 50 });
    serve(server, Echo, async ({ text, times }) => ({ echoed: text.repeat(times) }));
    // Takes every request and never answers.
    server.subscribe(Silent.subject, { callback: () => undefined });
    // Answers with what the endpoint's result schema does not allow.
    server.subscribe(Broken.subject, { callback: (_e, msg) => void msg.respond(encodeJson({ ok: true, result: { count: 'many' } })) });
    await server.flush();
  });

  after(async () => {
    await client?.close();
    await server?.close();
    await nats?.close();
  });

  it('gives each of many requests in flight its own answer, with the defaults the service applied', async () => {
    const texts = Array.from({ length: 300 }, (_, i) => `t${i}`);
    const results = await Promise.all(texts.map((text, i) => request(client, Echo, { text, ...(i % 2 ? { times: 2 } : {}) })));
    assert.deepEqual(
      results.map((r) => r.echoed),
      texts.map((text, i) => text.repeat(i % 2 ? 2 : 1)),
    );
  });

  it('a payload the service refuses comes back as bad-request naming the field', async () => {
    await assert.rejects(request(client, Echo, { text: 'x'.repeat(21) }), failure('bad-request', /^vm\.test\.echo: .*text/));
  });

  it('an answer that breaks the contract is internal, not the asker’s fault', async () => {
    await assert.rejects(request(client, Broken, {}), failure('internal', /reply from vm\.test\.broken: .*count/));
  });

  it('nobody serving, or nobody answering in time, is service-unavailable and says which', async () => {
    await assert.rejects(request(client, Nobody, {}), failure('service-unavailable', /^nobody is serving vm\.test\.nobody$/));
    await assert.rejects(request(client, Silent, {}, { timeoutMs: 300 }), failure('service-unavailable', /^vm\.test\.silent did not answer within 300 ms$/));
  });

  it('a request in flight while NATS restarts still gets the answer sent after both reconnected', async () => {
    // The service answers 1.5 s after it was asked; the server goes away and comes back meanwhile.
    const asked = new Promise<void>((resolve) =>
      serve(server, Slow, async ({ text }) => {
        resolve();
        await new Promise((done) => setTimeout(done, 1_500));
        return { echoed: text };
      }),
    );
    await server.flush();
    const answer = request(client, Slow, { text: 'across' });
    await asked;
    await nats.stop();
    await nats.start();
    assert.deepEqual(await answer, { echoed: 'across' });
  });

  describe('an endpoint that may be asked again', () => {
    /** Asked again after 150 ms (instead of REPEAT_AFTER_MS), then 300, 600…, for 3 s. */
    const repeated = (subject: string) => ({
      ...endpoint(subject, z.strictObject({ text: z.string() }), z.strictObject({ echoed: z.string(), run: z.number() }), 3_000, 'repeat'),
      repeatAfterMs: 150,
    });

    it('gets the answer when the request was lost on its way, and the work is done once', async () => {
      const Lossy = repeated('vm.test.lossy');
      let runs = 0;
      // The first copy goes to a subscriber that drops it, as a server does whose client just left;
      // the service subscribes only then, as on the server it moved to.
      const lost = new Promise<void>((resolve) =>
        server.subscribe(Lossy.subject, {
          max: 1,
          callback: () => {
            serve(server, Lossy, async ({ text }) => ({ echoed: text, run: ++runs }));
            resolve();
          },
        }),
      );
      await server.flush();
      const began = Date.now();
      const answer = await request(client, Lossy, { text: 'again' });
      await lost;
      assert.deepEqual(answer, { echoed: 'again', run: 1 });
      assert.ok(Date.now() - began >= 150, 'answered by a repeat');
      assert.equal(runs, 1);
    });

    it('a repeat of a request still running waits for its answer instead of running it again', async () => {
      const Busy = repeated('vm.test.busy');
      let runs = 0;
      serve(server, Busy, async ({ text }) => {
        runs++;
        await new Promise((done) => setTimeout(done, 800));
        return { echoed: text, run: runs };
      });
      let copies = 0;
      server.subscribe(Busy.subject, { callback: () => void copies++ });
      await server.flush();
      assert.deepEqual(await request(client, Busy, { text: 'patient' }), { echoed: 'patient', run: 1 });
      // At 0, 150 and 450 ms: the pause doubles after each repeat.
      assert.ok(copies >= 3, `asked ${copies} times while it ran`);
      assert.equal(runs, 1, 'the work was done once');
    });

    it('a repeat that comes after the answer was sent (the answer was lost) gets the same answer', async () => {
      const Done = repeated('vm.test.done');
      let runs = 0;
      serve(server, Done, async ({ text }) => ({ echoed: text, run: ++runs }));
      await server.flush();
      const inbox = `_INBOX.repeat-test.${Date.now()}`;
      const answers: string[] = [];
      const twice = new Promise<void>((resolve) =>
        client.subscribe(inbox, {
          max: 2,
          callback: (_e, msg) => {
            answers.push(msg.string());
            if (answers.length === 2) resolve();
          },
        }),
      );
      client.publish(Done.subject, encodeJson({ text: 'once' }), { reply: inbox });
      await client.flush();
      await new Promise((done) => setTimeout(done, 100));
      client.publish(Done.subject, encodeJson({ text: 'once' }), { reply: inbox });
      await twice;
      assert.deepEqual(
        answers.map((a) => JSON.parse(a) as unknown),
        [
          { ok: true, result: { echoed: 'once', run: 1 } },
          { ok: true, result: { echoed: 'once', run: 1 } },
        ],
      );
      assert.equal(runs, 1);
    });

    it('nobody serving is asked once more (the service may be moving), then final', async () => {
      const Moving = repeated('vm.test.moving');
      const answer = request(client, Moving, { text: 'late' });
      await new Promise((done) => setTimeout(done, 50));
      serve(server, Moving, async ({ text }) => ({ echoed: text, run: 1 }));
      await server.flush();
      assert.deepEqual(await answer, { echoed: 'late', run: 1 });

      const began = Date.now();
      await assert.rejects(request(client, repeated('vm.test.gone'), { text: 'x' }), failure('service-unavailable', /^nobody is serving vm\.test\.gone$/));
      assert.ok(Date.now() - began >= 150, 'asked again before it was final');

      // Patience shorter than the pause (a status question): asked once, and told at once.
      const quick = Date.now();
      await assert.rejects(
        request(client, { ...repeated('vm.test.gone'), timeoutMs: 100 }, { text: 'x' }),
        failure('service-unavailable', /^nobody is serving vm\.test\.gone$/),
      );
      assert.ok(Date.now() - quick < 100, 'not kept waiting for a repeat that cannot come');
    });

    it('answers once under the platform’s NATS permissions, however often it was asked', async () => {
      // NATS lets a service answer a request it received once, and repeats of one reply subject
      // count as one request there: a second answer would be refused as a violation.
      const media = await nats.connect({ identity: 'media' });
      const voicemail = await nats.connect({ identity: 'voicemail' });
      const Stop = { ...MediaApi.stopPlayback('media-perm'), repeatAfterMs: 100 };
      let runs = 0;
      serve(media, Stop, async () => {
        runs++;
        await new Promise((done) => setTimeout(done, 450));
        return { stopped: true };
      });
      await media.flush();
      const callRef = 'c0ffee00c0ffee00c0ffee00';
      assert.deepEqual(await request(voicemail, Stop, { callRef }), { stopped: true });
      assert.equal(runs, 1, 'asked three times, done once');
      // Its answer lost: the same request comes again after it was answered, and is answered again.
      const inbox = `${inboxPrefix('voicemail')}.lost-answer`;
      const answers: unknown[] = [];
      let answered = () => undefined as void;
      voicemail.subscribe(inbox, {
        callback: (_e, msg) => {
          answers.push(JSON.parse(msg.string()));
          answered();
        },
      });
      const ask = async () => {
        const arrived = new Promise<void>((resolve) => (answered = resolve));
        voicemail.publish(Stop.subject, encodeJson({ callRef }), { reply: inbox });
        await arrived;
      };
      await ask();
      await ask();
      assert.deepEqual(answers, [
        { ok: true, result: { stopped: true } },
        { ok: true, result: { stopped: true } },
      ]);
      assert.equal(runs, 2, 'the repeat after the answer was answered, not done again');
      await voicemail.close();
      await media.close();
      assert.deepEqual(nats.violations(), []);
    });

    it('a request that is never answered says how often it was asked', async () => {
      const Mute = { ...repeated(Silent.subject), timeoutMs: 500 };
      await assert.rejects(
        request(client, Mute, { text: 'x' }),
        failure('service-unavailable', /^vm\.test\.silent did not answer within 500 ms \(asked 3 times\)$/),
      );
      // What an operator sees: the repeats on /metrics, by subject.
      const metrics = await createRegistry('test', 'rpc-test').metrics();
      assert.match(metrics, /^sipvm_requests_repeated_total\{subject="vm\.test\.silent",service="test",instance="rpc-test"\} 2$/m);
    });
  });

  it('a connection that closes fails what waits on it, and refuses what is asked after', async () => {
    const own = await nats.connect();
    const refused = assert.rejects(
      request(own, Silent, {}),
      failure('service-unavailable', /vm\.test\.silent was not answered: the NATS connection is closed/),
    );
    await own.flush();
    await own.close();
    await refused;
    await assert.rejects(request(own, Echo, { text: 'late' }), failure('service-unavailable', /NATS connection is closed \(vm\.test\.echo\)/));
  });
});
