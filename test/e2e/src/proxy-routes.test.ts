/**
 * Requests the platform sends inside a dialog follow the dialog's route set (RFC 3261 §12.2.1.1,
 * loose routing), through Kamailio running the shipped deploy/kamailio/kamailio.cfg: a phone that
 * only its proxy reaches — it drops every packet from anywhere else, as a NAT binding does —
 * subscribes to MWI and gets its NOTIFYs, and calls voicemail and gets the platform's REFER and
 * BYE, all from the proxy. What drachtio-server put on the wire carries the proxy's Route. A NOTIFY
 * answered 481 ends the subscription quietly; a caller who asked for privacy is kept as withheld.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Kvm } from '@nats-io/kv';
import {
  MWI_SUBSCRIPTIONS_BUCKET,
  MwiApi,
  MwiSubscriptionSchema,
  request,
  SignalingApi,
  stageAudio,
  stagingBucket,
  StorageApi,
  SUBJECTS,
  type Mailbox,
} from '@sipvm/contracts';
import { kamailioMissingReason, prerequisite, sdpOffer, SipUdpClient, smallWav, startKamailio, type KamailioProxy, type SipReply } from '@sipvm/harness';
import { e2eSkipReason, useSignalingRig } from './rig.js';

const skip = e2eSkipReason() ?? prerequisite('the proxy route test', await kamailioMissingReason());
const PROXY_HOST = '127.0.3.1';
const PHONE_HOST = '127.0.3.2';
const mailbox: Mailbox = { did: 'example.org', uid: 'alice' };

describe('in-dialog requests through Kamailio to a phone only the proxy reaches', { skip }, () => {
  const rig = useSignalingRig(
    { TRUSTED_PROXIES: PROXY_HOST, MWI_MIN_EXPIRES: '60', TRANSFER_TIMEOUT_MS: '1000' },
    { storage: true, media: 'fake', applications: 'fake' },
  );
  let proxy: KamailioProxy;
  let phone: SipUdpClient;

  before(async () => {
    proxy = await startKamailio({ host: PROXY_HOST, nodes: [rig.target], profiles: [{ username: 'alice', domain: 'example.org', mode: 'box' }] });
    phone = await SipUdpClient.open(PHONE_HOST);
    phone.target = proxy.target;
    phone.acceptFrom = proxy.target;
  });
  after(async () => {
    await phone?.close();
    await proxy?.close();
  });

  const explain = () =>
    [
      `--- phone dropped ---\n${phone.dropped.map((d) => `${d.from}: ${d.text.split('\r\n')[0]}`).join('\n')}`,
      `--- phone received ---\n${phone.requests.map((r) => r.split('\r\n')[0]).join('\n')}`,
      rig.explain(),
      `--- kamailio ---\n${proxy.output().slice(-3000)}`,
    ].join('\n');

  const received = (method: string, callId: string) => phone.requests.filter((r) => r.startsWith(`${method} `) && header(r, 'Call-ID') === callId);

  it('MWI NOTIFYs reach the subscribed phone along the route set', async () => {
    const callId = `${randomBytes(8).toString('hex')}@phone`;
    const replies = await phone.exchange(
      message('SUBSCRIBE', 'sip:alice@example.org', phone.local, {
        From: `<sip:alice@example.org>;tag=${randomBytes(4).toString('hex')}`,
        To: '<sip:alice@example.org>',
        'Call-ID': callId,
        CSeq: '1 SUBSCRIBE',
        Contact: `<sip:alice@${phone.local}>`,
        Event: 'message-summary',
        Accept: 'application/simple-message-summary',
        Expires: '600',
      }),
      5_000,
    );
    assert.equal(replies.at(-1)?.status, 200, `${replies.map((r) => r.text).join('\n')}\n${explain()}`);
    await rig.waitFor(() => received('NOTIFY', callId).length >= 1, 'the first NOTIFY through the proxy');

    const staging = await stagingBucket(rig.nc);
    const audio = await stageAudio(
      staging,
      `route-test-${process.pid}`,
      (async function* () {
        yield smallWav(1);
      })(),
    );
    await request(
      rig.nc,
      StorageApi.createMessage,
      { mailbox, sender: 'sip:bob@example.org', recordedAt: new Date().toISOString(), durationMs: 1000, codec: 'PCMU', audio },
      { timeoutMs: 10_000 },
    );
    await rig.waitFor(() => received('NOTIFY', callId).some((n) => /Voice-Message: 1\/0/.test(n)), 'the NOTIFY of the new message through the proxy');

    // What another signaling instance does when it takes a mailbox event: it asks the one whose
    // drachtio-server holds the dialog.
    const kv = await new Kvm(rig.nc).open(MWI_SUBSCRIPTIONS_BUCKET);
    let key = '';
    for await (const k of await kv.keys()) key = k;
    const record = MwiSubscriptionSchema.parse((await kv.get(key))?.json());
    const asked = await request(rig.nc, MwiApi.notify(record.instance), { key, counts: { new: 7, saved: 2, urgentNew: 0, urgentSaved: 0 } });
    assert.deepEqual(asked, { sent: true });
    assert.ok(
      received('NOTIFY', callId).some((n) => /Voice-Message: 7\/2/.test(n)),
      explain(),
    );

    assert.deepEqual(phone.dropped, [], explain());
    // On drachtio-server's wire: the NOTIFY carries the proxy's Record-Route as its Route.
    const sent = sentRequests(rig.drachtio.output(), 'NOTIFY');
    assert.ok(sent.length >= 2, explain());
    for (const notify of sent) assert.match(notify, new RegExp(`^Route: <sip:${PROXY_HOST.replaceAll('.', '\\.')}[:;][^\\r\\n]*;lr`, 'm'), notify);
  });

  it('a phone that forgot its subscription answers 481: the subscription ends, quietly', async () => {
    const kv = await new Kvm(rig.nc).open(MWI_SUBSCRIPTIONS_BUCKET);
    const subscriptions = async () => {
      let n = 0;
      for await (const key of await kv.keys()) if ((await kv.get(key))?.operation === 'PUT') n++;
      return n;
    };
    assert.equal(await subscriptions(), 1, 'the subscription of the test before');
    const logFrom = rig.signaling.output().length;
    phone.answerWith = (request) => (request.startsWith('NOTIFY ') ? 481 : 200);
    try {
      const staging = await stagingBucket(rig.nc);
      const audio = await stageAudio(
        staging,
        `route-test-481-${process.pid}`,
        (async function* () {
          yield smallWav(1);
        })(),
      );
      await request(
        rig.nc,
        StorageApi.createMessage,
        { mailbox, sender: 'sip:bob@example.org', recordedAt: new Date().toISOString(), durationMs: 1000, codec: 'PCMU', audio },
        { timeoutMs: 10_000 },
      );
      await rig.waitFor(async () => (await subscriptions()) === 0, 'the subscription to be removed after the 481');
    } finally {
      phone.answerWith = () => 200;
    }
    // signaling logs the removal just after it deletes the record, and its stdout reaches this
    // process by a pipe, later than the delete does by NATS: wait for the line, do not read once.
    const removal = /"status":481[^\n]*MWI subscription gone at the phone; removed/;
    await rig.waitFor(() => removal.test(rig.signaling.output().slice(logFrom)), 'signaling to log the removal after the 481');
    const log = rig.signaling.output().slice(logFrom);
    assert.doesNotMatch(log, /"level":"(warn|error)"/, log);
  });

  it('a REFER and a BYE reach the caller along the route set (a caller who withheld their identity)', async () => {
    const callId = `${randomBytes(8).toString('hex')}@phone`;
    const from = `"Bob Smith" <sip:bob@example.org>;tag=${randomBytes(4).toString('hex')}`;
    const replies = await phone.exchange(
      message(
        'INVITE',
        'sip:alice@example.org',
        phone.local,
        {
          From: from,
          To: '<sip:alice@example.org>',
          'Call-ID': callId,
          CSeq: '1 INVITE',
          Contact: `<sip:bob@${phone.local}>`,
          // RFC 3323: the proxy still passes Bob's URI as snd; the platform keeps nothing of him.
          Privacy: 'id',
          'Content-Type': 'application/sdp',
        },
        sdpOffer(PHONE_HOST, 40_000),
      ),
      8_000,
    );
    const ok = replies.at(-1);
    assert.equal(ok?.status, 200, `${replies.map((r) => r.text).join('\n')}\n${explain()}`);
    phone.send(ackFor(ok, phone.local));

    const started = await rig.waitForEvent((e) => e.subject === SUBJECTS.call.started('voicemail') && e.event.callId === callId, 'the call to start');
    const { callRef, signalingInstance, params } = started.event as {
      callRef: string;
      signalingInstance: string;
      params: { sender: string; caller?: unknown };
    };
    assert.deepEqual([params.sender, params.caller], ['sip:anonymous@anonymous.invalid', { withheld: true }]);
    // With REFER, the caller's side places the call; this phone accepts and never reports, so
    // the platform leaves the dialog after TRANSFER_TIMEOUT_MS: a REFER, then a BYE.
    const outcome = await request(
      rig.nc,
      SignalingApi.transfer(signalingInstance),
      { callRef, target: 'sip:operator@example.org', method: 'refer' },
      { timeoutMs: 15_000 },
    );
    assert.equal(outcome.outcome, 'transferred', JSON.stringify(outcome));
    await rig.waitFor(() => received('BYE', callId).length === 1, 'the BYE through the proxy');
    assert.equal(received('REFER', callId).length, 1, explain());
    assert.match(received('REFER', callId)[0] ?? '', /^Refer-To: <?sip:operator@example\.org/m);

    assert.deepEqual(phone.dropped, [], explain());
    for (const method of ['REFER', 'BYE']) {
      const sent = sentRequests(rig.drachtio.output(), method).filter((r) => r.includes(callId));
      assert.equal(sent.length, 1, `${method}\n${explain()}`);
      assert.match(sent[0] ?? '', new RegExp(`^Route: <sip:${PROXY_HOST.replaceAll('.', '\\.')}[:;][^\\r\\n]*;lr`, 'm'), sent[0]);
    }
  });
});

/** A request from the phone, with the headers given (Via, Max-Forwards, Content-Length added). */
function message(method: string, uri: string, local: string, headers: Record<string, string>, body = ''): string {
  return [
    `${method} ${uri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${local};branch=z9hG4bK${randomBytes(8).toString('hex')};rport`,
    'Max-Forwards: 70',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

/** The ACK of a 2xx: to its Contact, along its Record-Route reversed (RFC 3261 §12.1.2, §13.2.2.4). */
function ackFor(ok: SipReply, local: string): string {
  const head = ok.text.split(/\r?\n\r?\n/)[0] ?? '';
  const recordRoutes = [...head.matchAll(/^Record-Route:\s*([^\r\n]*)/gim)].flatMap((m) => (m[1] ?? '').split(/,(?=\s*<)/).map((r) => r.trim()));
  const contact = /<([^>]+)>/.exec(ok.header('Contact') ?? '')?.[1] ?? '';
  const cseq = (ok.header('CSeq') ?? '1').split(/\s+/)[0] ?? '1';
  return message('ACK', contact, local, {
    ...(recordRoutes.length > 0 ? { Route: recordRoutes.reverse().join(', ') } : {}),
    From: ok.header('From') ?? '',
    To: ok.header('To') ?? '',
    'Call-ID': ok.callId,
    CSeq: `${cseq} ACK`,
  });
}

function header(text: string, name: string): string | undefined {
  const head = text.split(/\r?\n\r?\n/)[0] ?? '';
  return new RegExp(`^${name}\\s*:\\s*([^\\r\\n]*)`, 'im').exec(head)?.[1]?.trim();
}

/** The requests of `method` drachtio-server logged as sent (at `info` it logs each message after a time-stamped line). */
function sentRequests(log: string, method: string): string[] {
  return log
    .split(/^(?=\d{4}-\d\d-\d\d [\d:.]+ )/m)
    .filter((entry) => /^\S+ \S+ send \d+ bytes to /.test(entry))
    .map((entry) => entry.slice(entry.indexOf('\n') + 1))
    .filter((sent) => sent.startsWith(`${method} `));
}
