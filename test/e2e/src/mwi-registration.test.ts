/**
 * MWI that comes back (docs/behaviour.md §7): a phone that registers again — restarted, roamed — gets its lamp
 * at once, and lamps are sent again at an interval. End to end through Kamailio running the
 * shipped configuration (deploy/kamailio/kamailio.cfg) in front of a real drachtio-server and
 * signaling: the phone REGISTERs at Kamailio, Kamailio tells the node with a third-party REGISTER,
 * the node's unsolicited NOTIFY goes back through Kamailio to the registered phone.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request, stageAudio, stagingBucket, StorageApi, type Mailbox } from '@sipvm/contracts';
import { freeTcpUdpPort, kamailioMissingReason, prerequisite, SipUdpClient, smallWav, startKamailio, type KamailioProxy } from '@sipvm/harness';
import { e2eSkipReason, useSignalingRig } from './rig.js';

const PROXY_HOST = '127.0.1.23';
const DOMAIN = 'example.org';
const skip = e2eSkipReason() ?? prerequisite('Kamailio', await kamailioMissingReason());

describe('MWI after a registration, and refreshed, through the shipped Kamailio configuration', { skip }, () => {
  let proxyPort = 0;
  let kamailio: KamailioProxy;
  const rig = useSignalingRig(
    async () => {
      proxyPort = await freeTcpUdpPort(PROXY_HOST);
      return { MWI_PROXY: `sip:${PROXY_HOST}:${proxyPort}`, TRUSTED_PROXIES: `127.0.0.1,${PROXY_HOST}`, MWI_REFRESH_INTERVAL_MS: '10s' };
    },
    { storage: true, media: 'fake' },
  );

  before(async () => {
    kamailio = await startKamailio({
      host: PROXY_HOST,
      port: proxyPort,
      nodes: [rig.target],
      profiles: [
        { username: 'dora', domain: DOMAIN, uid: 'dora', did: DOMAIN },
        { username: 'ernie', domain: DOMAIN },
      ],
    });
  });
  after(async () => {
    await kamailio?.close();
  });

  let staged = 0;
  const deposit = async (mailbox: Mailbox) => {
    const audio = await stageAudio(
      await stagingBucket(rig.nc),
      `mwi-reg-${process.pid}-${staged++}`,
      (async function* () {
        yield smallWav(1);
      })(),
    );
    await request(rig.nc, StorageApi.createMessage, {
      mailbox,
      sender: 'sip:bob@example.net',
      recordedAt: new Date().toISOString(),
      durationMs: 1000,
      codec: 'PCMU',
      audio,
    });
  };

  /** A phone: registers at Kamailio with its own socket as Contact, and answers (and keeps) what it receives. */
  async function phone(user: string): Promise<{ sip: SipUdpClient; register(expires?: number): Promise<number | undefined>; notifies(): string[] }> {
    const sip = await SipUdpClient.open('127.0.0.1');
    sip.target = kamailio.target;
    const callId = `${randomBytes(8).toString('hex')}@phone`;
    let cseq = 0;
    return {
      sip,
      async register(expires = 300) {
        const message = [
          `REGISTER sip:${DOMAIN} SIP/2.0`,
          `Via: SIP/2.0/UDP ${sip.local};branch=z9hG4bK${randomBytes(8).toString('hex')};rport`,
          'Max-Forwards: 70',
          `From: <sip:${user}@${DOMAIN}>;tag=${randomBytes(4).toString('hex')}`,
          `To: <sip:${user}@${DOMAIN}>`,
          `Call-ID: ${callId}`,
          `CSeq: ${++cseq} REGISTER`,
          `Contact: <sip:${user}@${sip.local}>`,
          `Expires: ${expires}`,
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n');
        const replies = await sip.exchange(message, 5_000);
        return replies.find((r) => r.status >= 200)?.status;
      },
      notifies: () => sip.requests.filter((r) => r.startsWith('NOTIFY ')),
    };
  }

  it('a phone that registers gets the lamp of its mailbox at once; one without messages an unlit one', async () => {
    await deposit({ did: DOMAIN, uid: 'dora' });
    const dora = await phone('dora');
    const ernie = await phone('ernie');
    try {
      assert.equal(await dora.register(), 200);
      await rig.waitFor(() => dora.notifies().length > 0, 'the NOTIFY after the registration', 10_000);
      assert.match(dora.notifies()[0]!, /^NOTIFY sip:dora@127\.0\.0\.1:\d+ SIP\/2\.0/, 'to the phone where it registered');
      assert.match(dora.notifies()[0]!, /Messages-Waiting: yes\r\nMessage-Account: sip:dora@example\.org\r\nVoice-Message: 1\/0/);

      assert.equal(await ernie.register(), 200);
      await rig.waitFor(() => ernie.notifies().length > 0, 'the NOTIFY after the second phone registered', 10_000);
      assert.match(ernie.notifies()[0]!, /Messages-Waiting: no/);

      // Re-registering (the phone restarted) sends it again; a de-registration does not.
      const before = dora.notifies().length;
      assert.equal(await dora.register(), 200);
      await rig.waitFor(() => dora.notifies().length > before, 'the NOTIFY after the phone registered again', 10_000);
      const afterRegistrations = dora.notifies().length;
      assert.equal(await ernie.register(0), 200);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      assert.ok(ernie.notifies().length === 1, 'a de-registration sends no lamp');

      // The lamp that is on is sent again at the interval (10 s here), with no registration or change.
      await rig.waitFor(() => dora.notifies().length > afterRegistrations, 'the refreshed NOTIFY', 25_000);
      assert.match(dora.notifies().at(-1)!, /Messages-Waiting: yes/);
    } finally {
      await dora.sip.close();
      await ernie.sip.close();
    }
  });

  it('a REGISTER for a mailbox from anyone but the proxy is refused and sends nothing', async () => {
    const stranger = await SipUdpClient.open('127.0.0.5');
    stranger.target = rig.target;
    try {
      const message = [
        `REGISTER sip:${DOMAIN} SIP/2.0`,
        `Via: SIP/2.0/UDP ${stranger.local};branch=z9hG4bK${randomBytes(8).toString('hex')}`,
        'Max-Forwards: 70',
        `From: <sip:dora@${DOMAIN}>;tag=x1`,
        `To: <sip:dora@${DOMAIN}>`,
        `Call-ID: ${randomBytes(8).toString('hex')}@stranger`,
        'CSeq: 1 REGISTER',
        `Contact: <sip:dora@${stranger.local}>`,
        'P-App-Param: usr=dora;dom=example.org',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      const replies = await stranger.exchange(message, 5_000);
      assert.equal(replies.find((r) => r.status >= 200)?.status, 403);
    } finally {
      await stranger.close();
    }
  });
});
