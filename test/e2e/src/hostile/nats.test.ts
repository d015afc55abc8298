/**
 * Hostile NATS clients (SECURITY.md, "NATS: an identity per service"): without credentials nobody connects, and each
 * service's credentials open only what that service needs. The expectations are written out here
 * from SECURITY.md (who may read PINs, serve storage, send mail, …), not derived from the permission
 * table, so this test checks the table as much as the server. Each "may" is proven by a delivery,
 * each "may not" by the server's refusal: nothing here waits for something not to happen.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { nkeyAuthenticator, nkeys, type NatsConnection } from '@nats-io/nats-core';
import { SERVICE_IDENTITIES, type ServiceIdentity } from '@sipvm/contracts';
import { startNats, waitFor, type NatsServer } from '@sipvm/harness';

interface Check {
  /** What a hostile client would gain. */
  what: string;
  op: 'publish' | 'subscribe';
  subject: string;
  /** The only services that may. */
  allowed: readonly ServiceIdentity[];
}

const CHECKS: readonly Check[] = [
  { what: 'read voicebox call events (the PIN verifier)', op: 'subscribe', subject: 'vm.call.voicebox.started', allowed: ['voicebox'] },
  { what: 'read the digits a voicebox caller presses', op: 'subscribe', subject: 'vm.call.voicebox.digit', allowed: ['voicebox'] },
  { what: 'read voicemail call events (e-mail addresses)', op: 'subscribe', subject: 'vm.call.voicemail.started', allowed: ['voicemail', 'bench'] },
  { what: 'read every call event', op: 'subscribe', subject: 'vm.call.>', allowed: [] },
  { what: 'read audio on its way to storage', op: 'subscribe', subject: 'vm.staging.abc', allowed: [] },
  { what: 'read the answers to anybody’s requests', op: 'subscribe', subject: '_INBOX.>', allowed: [] },
  { what: 'read the answers to storage’s requests', op: 'subscribe', subject: '_INBOX.storage.x', allowed: ['storage'] },
  { what: 'pose as storage (take delete requests)', op: 'subscribe', subject: 'vm.storage.message.delete', allowed: ['storage'] },
  { what: 'pose as media (take new calls’ SDP)', op: 'subscribe', subject: 'vm.media.node.default.session.open', allowed: ['media'] },
  { what: 'pose as a node’s media (take its recordings)', op: 'subscribe', subject: 'vm.media.node.default.record.stop', allowed: ['media'] },
  { what: 'list any mailbox', op: 'publish', subject: 'vm.storage.mailbox.list', allowed: ['voicebox', 'web'] },
  { what: 'delete any message', op: 'publish', subject: 'vm.storage.message.delete', allowed: ['voicebox', 'web'] },
  { what: 'read any message’s audio', op: 'publish', subject: 'vm.storage.audio.read', allowed: ['media', 'web', 'voicemail'] },
  { what: 'write what a caller said into any message', op: 'publish', subject: 'vm.storage.message.transcript', allowed: ['voicemail'] },
  { what: 'announce a forged transcript (webhooks)', op: 'publish', subject: 'vm.mailbox.transcribed', allowed: ['storage'] },
  { what: 'replace any greeting', op: 'publish', subject: 'vm.storage.greeting.put', allowed: ['voicebox', 'web', 'bench'] },
  { what: 'send a forged mail', op: 'publish', subject: 'vm.mail.send', allowed: ['voicemail'] },
  { what: 'take the mail outbox', op: 'publish', subject: '$JS.API.CONSUMER.DURABLE.CREATE.VM_MAIL.thief', allowed: ['voicemail'] },
  { what: 'lift a PIN lock-out', op: 'publish', subject: '$KV.vm-voicebox-pin-failures.ZXhhbXBsZS5vcmcKYWxpY2U', allowed: ['voicebox'] },
  { what: 'forge a voicebox call', op: 'publish', subject: 'vm.call.voicebox.started', allowed: ['signaling'] },
  { what: 'hang up anybody’s call', op: 'publish', subject: 'vm.signaling.sig-1.hangup', allowed: ['voicemail', 'voicebox'] },
  { what: 'read staged audio', op: 'publish', subject: '$JS.API.DIRECT.GET.VM_STAGING.vm.staging.abc', allowed: ['storage', 'media', 'voicemail'] },
];

/** A connection as one identity that remembers every permission error the server sent it. */
async function connectAs(nats: NatsServer, identity: ServiceIdentity): Promise<{ nc: NatsConnection; refusals: string[] }> {
  const nc = await nats.connect({ identity });
  const refusals: string[] = [];
  void (async () => {
    for await (const status of nc.status()) if (status.type === 'error') refusals.push(String(status.error));
  })();
  return { nc, refusals };
}

describe('NATS with the platform’s permissions', () => {
  let nats: NatsServer;
  let admin: NatsConnection;
  const clients = new Map<ServiceIdentity, Awaited<ReturnType<typeof connectAs>>>();

  before(async () => {
    nats = await startNats({ expectViolations: true });
    admin = await nats.connect();
    for (const identity of SERVICE_IDENTITIES) clients.set(identity, await connectAs(nats, identity));
  });
  after(async () => {
    for (const { nc } of clients.values()) await nc.close();
    await admin?.close();
    await nats?.close();
  });

  it('refuses a client without credentials', async () => {
    await assert.rejects(connect({ servers: nats.url }), (error: Error) => /Authorization Violation/i.test(error.message));
  });

  it('refuses a key it does not know', async () => {
    const stranger = nkeys.createUser().getSeed();
    await assert.rejects(connect({ servers: nats.url, authenticator: nkeyAuthenticator(stranger) }), (error: Error) =>
      /Authorization Violation/i.test(error.message),
    );
  });

  /** Whether the server refused `identity` the check, or let it through (a delivery proves it). */
  async function outcome(identity: ServiceIdentity, check: Check): Promise<'refused' | 'delivered'> {
    const client = clients.get(identity);
    assert.ok(client);
    const refusal = `Permissions Violation for ${check.op === 'publish' ? 'Publish' : 'Subscription'} to "${check.subject}"`;
    const refused = () => client.refusals.some((r) => r.includes(refusal));
    let delivered = false;
    if (check.op === 'publish') {
      // Several identities try at once: each one's message says who sent it.
      const watch = admin.subscribe(check.subject, {
        callback: (_error, msg) => {
          if (msg.string() === identity) delivered = true;
        },
      });
      await admin.flush();
      client.nc.publish(check.subject, identity);
      await waitFor(() => delivered || refused(), 5_000, `${identity} publishing ${check.subject}`);
      watch.unsubscribe();
    } else {
      const sub = client.nc.subscribe(check.subject, {
        callback: (error) => {
          if (!error) delivered = true;
        },
      });
      await client.nc.flush();
      const probe = check.subject.replace(/\*|>/g, 'probe');
      await waitFor(
        () => {
          if (!delivered && !refused()) admin.publish(probe, 'probe');
          return delivered || refused();
        },
        5_000,
        `${identity} subscribing to ${check.subject}`,
      );
      sub.unsubscribe();
    }
    return delivered ? 'delivered' : 'refused';
  }

  for (const check of CHECKS) {
    it(`lets only ${check.allowed.length ? check.allowed.join(', ') : 'admin'} ${check.what} (${check.op} ${check.subject})`, async () => {
      const results = Object.fromEntries(await Promise.all(SERVICE_IDENTITIES.map(async (identity) => [identity, await outcome(identity, check)] as const)));
      const expected = Object.fromEntries(SERVICE_IDENTITIES.map((identity) => [identity, check.allowed.includes(identity) ? 'delivered' : 'refused']));
      assert.deepEqual(results, expected);
    });
  }
});
