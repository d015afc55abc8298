/**
 * NATS over TLS (NATS_TLS_*), with a CA made by the test: a service connects to a server that
 * requires TLS and client certificates, and serves over it; a client that does not trust the CA,
 * has no certificate, or speaks plain text, does not get in.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { connect } from '@nats-io/transport-node';
import { nkeyAuthenticator, type NatsConnection } from '@nats-io/nats-core';
import { readSeed, request, StorageApi } from '@sipvm/contracts';
import { makeTestPki, startNats, startService, tempDir, type NatsServer, type RunningServiceProcess, type TempDir, type TestPki } from '@sipvm/harness';

describe('NATS over TLS', () => {
  let dir: TempDir;
  let pki: TestPki;
  let nats: NatsServer;
  let storage: RunningServiceProcess | undefined;
  let admin: NatsConnection | undefined;

  before(async () => {
    dir = await tempDir('nats-tls');
    pki = makeTestPki(dir.path);
    nats = await startNats({ tls: { ...pki.server, caFile: pki.caFile, verifyClients: true } });
  });
  after(async () => {
    await admin?.close();
    await storage?.stop();
    await nats?.close();
    await dir?.remove();
  });

  it('carries a service’s requests when it trusts the CA and shows its certificate', async () => {
    assert.match(nats.url, /^tls:\/\//);
    storage = await startService('storage', {
      NATS_URL: nats.url,
      NATS_TLS_CA_FILE: pki.caFile,
      NATS_TLS_CERT_FILE: pki.client.certFile,
      NATS_TLS_KEY_FILE: pki.client.keyFile,
      STORAGE_BACKEND: 'local',
      STORAGE_DIR: dir.path,
    });
    admin = await nats.connect({ tls: { caFile: pki.caFile, ...pki.client } });
    const { counts } = await request(admin, StorageApi.countMailbox, { mailbox: { did: 'example.org', uid: 'nobody' } });
    assert.deepEqual(counts, { new: 0, saved: 0, urgentNew: 0, urgentSaved: 0 });
  });

  const credentials = () => ({ authenticator: nkeyAuthenticator(readSeed(nats.seedFile('admin'))), maxReconnectAttempts: 0, reconnect: false, timeout: 3_000 });

  it('refuses a client that does not trust the CA', async () => {
    await assert.rejects(connect({ servers: nats.url, ...credentials(), tls: { ...pki.client } }), /unable to verify/);
  });

  it('refuses a client without a certificate', async () => {
    await assert.rejects(connect({ servers: nats.url, ...credentials(), tls: { caFile: pki.caFile } }), /bad certificate|certificate required/);
  });

  it('refuses plain text', async () => {
    // A client that ignores the server's tls_required and says CONNECT in clear.
    const said = await new Promise<string>((resolve) => {
      let text = '';
      const socket = createConnection({ host: '127.0.0.1', port: nats.port }, () => socket.write('CONNECT {"verbose":false}\r\nPING\r\n'));
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', () => undefined);
      setTimeout(() => socket.destroy(), 3_000);
    });
    assert.match(said, /"tls_required":true/);
    assert.doesNotMatch(said, /PONG/);
  });
});
