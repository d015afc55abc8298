/**
 * The steps of a new INVITE and SUBSCRIBE one by one, with FAKE drachtio-srf requests and
 * responses (fakeRequest, fakeResponse below: the fields the steps read, the replies they send).
 * End to end, through drachtio-server, the same policy is tested in test/e2e/src/hostile.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Registry } from 'prom-client';
import { pinMatches } from '@sipvm/contracts';
import { commonConfigShape, createLogger, loadConfig } from '@sipvm/service';
import { parseMappingFile } from './app-selection.js';
import { signalingConfig, type SignalingConfig } from './config.js';
import { inviteSteps } from './invite-steps.js';
import { contextOf, initContext, type RequestContext } from './request-context.js';
import type { SipRequest, SipResponse, Step } from './sip-stack.js';
import { TrustedSources, TrustPolicy } from './trust.js';

const PROXY = '10.0.0.5';
const STRANGER = '198.51.100.7';
const SDP = 'v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';

/** FAKE drachtio-srf request: a source, a method, a Request-URI, headers and a body. */
function fakeRequest(options: { source: string; method?: string; uri: string; headers?: Record<string, string>; body?: string }): SipRequest {
  const headers = new Map(
    Object.entries({
      'Call-ID': 'abc123@test',
      Contact: '<sip:caller@10.0.0.9>',
      'Content-Type': 'application/sdp',
      From: '<sip:caller@x.org>;tag=1',
      ...options.headers,
    }).map(([k, v]) => [k.toLowerCase(), v]),
  );
  return Object.assign(new EventEmitter(), {
    source_address: options.source,
    method: options.method ?? 'INVITE',
    uri: options.uri,
    body: options.body ?? SDP,
    has: (name: string) => headers.has(name.toLowerCase()),
    get: (name: string) => headers.get(name.toLowerCase()) ?? '',
  }) as unknown as SipRequest;
}

/** FAKE drachtio-srf response: remembers the one final reply. */
function fakeResponse(): SipResponse & { sent?: { status: number; reason: string; headers: Record<string, string> } } {
  const res = {
    finalResponseSent: false,
    sent: undefined as { status: number; reason: string; headers: Record<string, string> } | undefined,
    send(status: number, reason: string, options: { headers?: Record<string, string> } = {}) {
      res.sent = { status, reason, headers: options.headers ?? {} };
      res.finalResponseSent = status >= 200;
    },
  };
  return res as unknown as SipResponse & { sent?: { status: number; reason: string; headers: Record<string, string> } };
}

const config = (env: Record<string, string> = {}): SignalingConfig =>
  loadConfig({ ...commonConfigShape, ...signalingConfig }, { TRUSTED_PROXIES: PROXY, ...env });
const log = createLogger('signaling-test', 'test', 'silent');

function invite(env: Record<string, string> = {}, calls = { refusal: (): string | undefined => undefined, admitted: 0 }) {
  const settings = config(env);
  const trust = new TrustPolicy(
    { sources: new TrustedSources(settings.TRUSTED_PROXIES), untrustedHeaders: settings.UNTRUSTED_APP_HEADERS, untrustedCalls: settings.UNTRUSTED_CALLS },
    new Registry(),
  );
  const steps = inviteSteps({
    calls: {
      refusal: () => calls.refusal(),
      admit: () => {
        calls.admitted++;
        return () => calls.admitted--;
      },
      countInvite: () => undefined,
    },
    trust,
    config: settings,
    mapping: parseMappingFile('^sip:8000@ => voicebox\n'),
  });
  const chain: Step[] = [
    initContext(log),
    steps.initInvite,
    steps.admitCall,
    steps.checkCallId,
    trust.trustSource,
    steps.requireSdpOffer,
    steps.checkContact,
    steps.negotiateTimers,
    steps.selectApplication,
    trust.trustApplication,
    steps.resolveParameters,
  ];
  return { chain, trust, calls };
}

/** Runs the steps until one replies or all have passed the request on. */
async function run(
  chain: readonly Step[],
  req: SipRequest,
): Promise<{ reply?: { status: number; reason: string; headers: Record<string, string> }; context: RequestContext }> {
  const res = fakeResponse();
  for (const step of chain) {
    let passed = false;
    await step(req, res, () => (passed = true));
    if (!passed) break;
  }
  return { ...(res.sent ? { reply: res.sent } : {}), context: contextOf(req) };
}

describe('the trust steps (one policy for INVITE and SUBSCRIBE)', () => {
  for (const [what, uri, headers] of [
    ['the R-URI parameter', 'sip:alice@vm.example.org;app=voicebox', {}],
    ['the R-URI user', 'sip:annrecorder@vm.example.org', {}],
    ['the mapping', 'sip:8000@vm.example.org', {}],
    ['P-App-Name', 'sip:alice@vm.example.org', { 'P-App-Name': 'voicebox' }],
  ] as const) {
    it(`refuses a stranger whatever selects the application: ${what}`, async () => {
      const { reply } = await run(invite().chain, fakeRequest({ source: STRANGER, uri, headers }));
      assert.equal(reply?.status, 403);
    });
    it(`lets the proxy through, selected by ${what}`, async () => {
      const { reply, context } = await run(invite().chain, fakeRequest({ source: PROXY, uri, headers }));
      assert.equal(reply, undefined);
      assert.ok(['voicebox', 'annrecorder'].includes(context.selection?.app ?? ''));
    });
  }

  it('lets a stranger only leave a message when UNTRUSTED_CALLS=voicemail, its P-App headers ignored (UNTRUSTED_APP_HEADERS=ignore)', async () => {
    const { chain } = invite({ UNTRUSTED_CALLS: 'voicemail', UNTRUSTED_APP_HEADERS: 'ignore', DEFAULT_MODE: 'box' });
    const voicemail = await run(
      chain,
      fakeRequest({ source: STRANGER, uri: 'sip:voicemail@vm.example.org', headers: { 'P-App-Name': 'voicebox', 'P-App-Param': 'usr=victim;pin=1' } }),
    );
    assert.equal(voicemail.reply, undefined);
    assert.equal(voicemail.context.selection?.app, 'voicemail');
    assert.equal(voicemail.context.params?.uid, 'voicemail', 'P-App-Param ignored');
    for (const uri of ['sip:voicebox@vm.example.org', 'sip:alice@vm.example.org;app=annrecorder', 'sip:8000@vm.example.org']) {
      assert.equal((await run(chain, fakeRequest({ source: STRANGER, uri }))).reply?.status, 403, uri);
    }
  });

  it('believes P-Email-Address and P-Language (the seed HOWTO) from the proxy only, as the P-App headers', async () => {
    const seedHeaders = { 'P-App-Name': 'voicemail', 'P-Email-Address': 'alex@iptel.org', 'P-Language': 'german' };
    const proxy = await run(invite().chain, fakeRequest({ source: PROXY, uri: 'sip:alex@iptel.org', headers: seedHeaders }));
    assert.equal(proxy.reply, undefined);
    assert.deepEqual([proxy.context.params?.email, proxy.context.params?.language], ['alex@iptel.org', 'german']);
    const refused = await run(
      invite({ UNTRUSTED_CALLS: 'voicemail' }).chain,
      fakeRequest({ source: STRANGER, uri: 'sip:voicemail@vm.example.org', headers: { 'P-Email-Address': 'eve@evil.org' } }),
    );
    assert.equal(refused.reply?.status, 403);
    const { chain } = invite({ UNTRUSTED_CALLS: 'voicemail', UNTRUSTED_APP_HEADERS: 'ignore', DEFAULT_MODE: 'box' });
    const ignored = await run(
      chain,
      fakeRequest({ source: STRANGER, uri: 'sip:voicemail@vm.example.org', headers: { 'P-Email-Address': 'eve@evil.org', 'P-Language': 'klingon' } }),
    );
    assert.equal(ignored.reply, undefined);
    assert.deepEqual([ignored.context.params?.email, ignored.context.params?.language], [undefined, 'en']);
  });

  it('refuses a stranger’s SUBSCRIBE, and lets the proxy’s through', async () => {
    const { trust } = invite();
    const subscribe = (source: string) => fakeRequest({ source, method: 'SUBSCRIBE', uri: 'sip:alice@example.org', headers: { Event: 'message-summary' } });
    assert.equal((await run([initContext(log), trust.trustSource], subscribe(STRANGER))).reply?.status, 403);
    const proxy = await run([initContext(log), trust.trustSource], subscribe(PROXY));
    assert.equal(proxy.reply, undefined);
    assert.equal(proxy.context.trusted, true);
  });
});

describe('the INVITE steps', () => {
  const proxyInvite = (headers: Record<string, string> = {}, uri = 'sip:alice@vm.example.org') =>
    fakeRequest({ source: PROXY, uri, headers: { 'P-App-Name': 'voicebox', ...headers } });

  it('seals the PIN where it enters, and keeps the mailbox domain in lower case', async () => {
    const { context } = await run(invite().chain, proxyInvite({ 'P-App-Param': 'usr=Alice;dom=EXAMPLE.org;pin=2468' }));
    const params = context.params;
    assert.ok(params?.pin);
    assert.ok(!JSON.stringify(params).includes('2468'));
    assert.ok(await pinMatches('2468', params.pin));
    assert.deepEqual([params.uid, params.did], ['Alice', 'example.org']);
  });

  it('answers 503 with Retry-After while calls cannot be taken, and gives the place back on every refusal', async () => {
    const down = invite({}, { refusal: () => 'at capacity', admitted: 0 });
    assert.deepEqual((await run(down.chain, proxyInvite())).reply, {
      status: 503,
      reason: 'Service Unavailable (at capacity)',
      headers: { 'Retry-After': '5' },
    });
    const up = invite();
    assert.equal((await run(up.chain, proxyInvite({ 'P-App-Param': 'usr=../x' }))).reply?.status, 400);
    assert.equal(up.calls.admitted, 0, 'released after the refusal');
    await run(up.chain, proxyInvite());
    assert.equal(up.calls.admitted, 1, 'held until the call is answered');
  });

  it('refuses what it cannot take, each with the reply that says why', async () => {
    const { chain } = invite();
    const replyTo = async (req: SipRequest) => (await run(chain, req)).reply;
    assert.equal((await replyTo(proxyInvite({ 'Call-ID': 'has space' })))?.reason, 'Bad Call-ID');
    assert.equal((await replyTo(fakeRequest({ source: PROXY, uri: 'sip:a@b', headers: { 'P-App-Name': 'voicebox' }, body: '' })))?.status, 488);
    for (const contact of ['tel:+4930123', '*', '<sip:a@b>, <sip:c@d>'])
      assert.equal((await replyTo(proxyInvite({ Contact: contact })))?.reason, 'Bad Request (Contact must be one SIP URI)', contact);
    assert.equal(await replyTo(proxyInvite({ Contact: '"Doe, John" <sip:j@x.org>' })), undefined, 'a quoted comma is one contact');
    assert.equal((await replyTo(proxyInvite({ 'Session-Expires': '30', Supported: 'timer' })))?.status, 422);
    assert.equal((await replyTo(proxyInvite({ 'P-App-Name': 'conference' })))?.status, 404);
    assert.match((await replyTo(proxyInvite({ 'P-App-Param': 'pin=12a4' })))?.reason ?? '', /^Bad Request \(P-App-Param pin: must be 1 to 16 digits\)$/);
  });
});
