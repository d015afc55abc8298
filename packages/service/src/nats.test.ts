/** NATS credentials and TLS from the configuration: read and checked at start-up, secrets never shown. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureNatsKeys, seedFile } from '@sipvm/contracts';
import { ConfigError } from './config.js';
import { natsSecurity } from './nats.js';

type Settings = Parameters<typeof natsSecurity>[0];
const base: Settings = { NATS_URL: ['nats://127.0.0.1:4222'] };

function problems(settings: Partial<Settings>): string[] {
  try {
    natsSecurity({ ...base, ...settings }, 'storage');
    return [];
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return [...error.problems];
  }
}

it('authenticates with the nkey in NATS_NKEY_FILE and takes answers on the identity’s own inbox', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipvm-nats-'));
  try {
    ensureNatsKeys(['storage'], (identity) => seedFile(dir, identity));
    const options = natsSecurity({ ...base, NATS_NKEY_FILE: seedFile(dir, 'storage') }, 'storage');
    assert.equal(typeof options.authenticator, 'function');
    assert.equal(options.inboxPrefix, '_INBOX.storage');
    assert.equal(options.tls, undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('names the variable of every bad setting and never prints a secret', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipvm-nats-'));
  try {
    const notASeed = join(dir, 'not-a-seed');
    writeFileSync(notASeed, 'hunter2-very-secret\n');
    const found = problems({ NATS_NKEY_FILE: notASeed, NATS_USER: 'storage', NATS_TLS_CERT_FILE: join(dir, 'missing.pem') });
    assert.ok(
      found.some((p) => p.startsWith('NATS_NKEY_FILE') && p.includes('nkey user seed')),
      found.join('\n'),
    );
    assert.ok(
      found.some((p) => p.startsWith('NATS_NKEY_FILE and NATS_USER')),
      found.join('\n'),
    );
    assert.ok(
      found.some((p) => p.startsWith('NATS_USER and NATS_PASSWORD_FILE')),
      found.join('\n'),
    );
    assert.ok(
      found.some((p) => p.startsWith('NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE')),
      found.join('\n'),
    );
    assert.ok(
      found.some((p) => p.startsWith('NATS_TLS_CERT_FILE (') && p.includes('cannot be read')),
      found.join('\n'),
    );
    assert.ok(!found.join('\n').includes('hunter2'));
    assert.deepEqual(
      problems({ NATS_NKEY_FILE: join(dir, 'nothing-here') }).map((p) => p.split(':')[0]),
      ['NATS_NKEY_FILE ("' + join(dir, 'nothing-here') + '")'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('asks for TLS when a tls:// server or a CA is given', () => {
  assert.deepEqual(natsSecurity({ ...base, NATS_URL: ['tls://nats:4222'] }, 'web').tls, {});
  const dir = mkdtempSync(join(tmpdir(), 'sipvm-nats-'));
  try {
    writeFileSync(join(dir, 'ca.pem'), 'PEM');
    assert.deepEqual(natsSecurity({ ...base, NATS_TLS_CA_FILE: join(dir, 'ca.pem') }, 'web').tls, { caFile: join(dir, 'ca.pem') });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
