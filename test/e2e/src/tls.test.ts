/**
 * TLS with a CA made by the test. NATS (NATS_TLS_*): a service connects to a server that requires
 * TLS and client certificates, and serves over it; a client that does not trust the CA, has no
 * certificate, or speaks plain text, does not get in. S3 (S3_CA_FILE): storage keeps messages
 * behind an https endpoint signed by a private CA, and refuses it without that CA.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { connect } from '@nats-io/transport-node';
import { nkeyAuthenticator, type NatsConnection } from '@nats-io/nats-core';
import { readSeed, request, StorageApi } from '@sipvm/contracts';
import {
  freePort,
  makeTestPki,
  smallWav,
  startNats,
  startS3,
  startService,
  tempDir,
  waitFor,
  type NatsServer,
  type RunningServiceProcess,
  type S3Server,
  type TempDir,
  type TestPki,
} from '@sipvm/harness';
import { stageAudio, stagingBucket } from '@sipvm/contracts';

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
    const logged = nats.output().length;
    // TLS 1.3 lets the server's alert race its close: the client sees the alert or a reset.
    await assert.rejects(connect({ servers: nats.url, ...credentials(), tls: { caFile: pki.caFile } }), /bad certificate|certificate required|ECONNRESET/);
    // Either way, the server refused the handshake for the missing certificate.
    await waitFor(
      () => /TLS handshake error.*certificate/.test(nats.output().slice(logged)),
      5_000,
      'nats-server to refuse the handshake for the missing certificate',
    );
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

describe('S3 over TLS with a private CA', () => {
  let dir: TempDir;
  let pki: TestPki;
  let nats: NatsServer;
  let s3: S3Server;
  let proxy: TlsServer;
  let endpoint: string;
  const services: RunningServiceProcess[] = [];

  before(async () => {
    dir = await tempDir('s3-tls');
    pki = makeTestPki(dir.path);
    nats = await startNats();
    s3 = await startS3();
    // s3rver speaks HTTP only: TLS in front of it, with the test CA's certificate.
    proxy = createTlsServer({ cert: readFileSync(pki.server.certFile), key: readFileSync(pki.server.keyFile) }, (socket) => {
      const upstream: Socket = createConnection({ host: '127.0.0.1', port: s3.port });
      socket.pipe(upstream).pipe(socket);
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    });
    const port = await freePort();
    await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve));
    endpoint = `https://127.0.0.1:${port}`;
  });
  after(async () => {
    for (const service of services) await service.stop();
    await new Promise((resolve) => proxy?.close(resolve));
    await s3?.close();
    await nats?.close();
    await dir?.remove();
  });

  it('stores a message behind https when S3_CA_FILE names the CA', async () => {
    const storage = await startService('storage', { NATS_URL: nats.url, ...s3.env, S3_ENDPOINT: endpoint, S3_CA_FILE: pki.caFile });
    services.push(storage);
    const nc = await nats.connect();
    try {
      const audio = await stageAudio(
        await stagingBucket(nc),
        `tls-${process.pid}`,
        (async function* () {
          yield smallWav(1);
        })(),
      );
      const mailbox = { did: 'example.org', uid: 'tls' };
      await request(nc, StorageApi.createMessage, {
        mailbox,
        sender: 'sip:a@b.org',
        recordedAt: new Date().toISOString(),
        durationMs: 1000,
        codec: 'PCMU',
        urgent: false,
        audio,
      });
      assert.equal((await request(nc, StorageApi.countMailbox, { mailbox })).counts.new, 1);
    } finally {
      await nc.close();
    }
  });

  it('does not reach that S3 without the CA', async () => {
    const storage = await startService(
      'storage',
      { NATS_URL: nats.url, ...s3.env, S3_ENDPOINT: endpoint, STORAGE_HEALTH_INTERVAL_MS: '500' },
      { waitReady: false },
    );
    services.push(storage);
    await waitFor(() => /storage backend unreachable/.test(storage.output()), 15_000, 'storage to say the backend is unreachable');
    assert.match(storage.output(), /"msg":"storage backend unreachable"/);
    assert.match(/.*storage backend unreachable.*/.exec(storage.output())?.[0] ?? '', /certificate/i, 'because of the certificate');
    assert.equal((await storage.readyz()).status, 503);
  });
});
