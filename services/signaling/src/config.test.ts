/** A broken configuration stops signaling at start-up, naming every bad variable and why. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, tempDir } from '@sipvm/harness';

const main = join(REPO_ROOT, 'services', 'signaling', 'dist', 'main.js');
const run = (env: Record<string, string>) =>
  spawnSync(process.execPath, [main], { env: { PATH: process.env.PATH ?? '', NATS_URL: 'nats://127.0.0.1:1', ...env }, encoding: 'utf8', timeout: 10_000 });

it('exits with EX_CONFIG (78) and names each bad variable and why', () => {
  const result = run({
    TRUSTED_PROXIES: '10.0.0.1, proxy.example.org, 10.0.0.0/40',
    UNTRUSTED_APP_HEADERS: 'maybe',
    APP_FALLBACKS: 'ruri-user,database',
    DEFAULT_MODE: 'fax',
    DEFAULT_LANGUAGE: 'english!',
    MWI_PROXY: 'proxy.example.org',
    MWI_TARGET_TEMPLATE: 'sip:{did}',
    DRACHTIO_PORT: '70000',
    APP_PARAM_EXTRA_KEYS: 'Company Name',
    UNTRUSTED_CALLS: 'everyone',
  });
  assert.equal(result.status, 78, result.stderr);
  for (const expected of [
    /TRUSTED_PROXIES \(".*"\): "proxy\.example\.org" is not an IP address or CIDR range/,
    /TRUSTED_PROXIES \(".*"\): "10\.0\.0\.0\/40" has a bad prefix length/,
    /UNTRUSTED_APP_HEADERS \("maybe"\): must be one of refuse, ignore/,
    /APP_FALLBACKS \("ruri-user,database"\): "database" is not one of ruri-param, ruri-user, mapping/,
    /DEFAULT_MODE \("fax"\): must be one of voicemail, box, both, ann/,
    /DEFAULT_LANGUAGE \("english!"\): must be a language tag/,
    /MWI_PROXY \("proxy\.example\.org"\): must be a SIP URI/,
    /MWI_TARGET_TEMPLATE \("sip:\{did\}"\): must be a SIP URI template containing \{uid\}/,
    /DRACHTIO_PORT \("70000"\): must be between 0 and 65535/,
    /APP_PARAM_EXTRA_KEYS \("Company Name"\): "Company Name" must be a lower-case key/,
    /UNTRUSTED_CALLS \("everyone"\): must be one of refuse, voicemail/,
  ]) {
    assert.match(result.stderr, expected);
  }
});

it('refuses NATS credentials it cannot read before connecting anywhere', () => {
  const result = run({ NATS_NKEY_FILE: '/nonexistent/signaling.nk' });
  assert.equal(result.status, 78, result.stderr);
  assert.match(result.stderr, /NATS_NKEY_FILE \("\/nonexistent\/signaling\.nk"\): cannot be read \(ENOENT\)/);
});

it('checks the MWI expiry limits against each other', () => {
  const result = run({ MWI_MIN_EXPIRES: '600', MWI_MAX_EXPIRES: '300' });
  assert.equal(result.status, 78, result.stderr);
  assert.match(result.stderr, /MWI_MIN_EXPIRES \(600\): must not be more than MWI_MAX_EXPIRES \(300\)/);
});

it('refuses a broken mapping file before connecting anywhere', async () => {
  const dir = await tempDir('signaling-config');
  try {
    const file = join(dir.path, 'apps.map');
    writeFileSync(file, '^sip:1000@ => voicebox\n^sip:(9 => voicemail\n');
    const result = run({ APP_MAPPING_FILE: file });
    assert.equal(result.status, 78, result.stderr);
    assert.match(result.stderr, /APP_MAPPING_FILE \(".*apps\.map"\): .*line 2: bad regex/);
    const missing = run({ APP_MAPPING_FILE: join(dir.path, 'nope.map') });
    assert.equal(missing.status, 78, missing.stderr);
    assert.match(missing.stderr, /cannot read mapping file/);
  } finally {
    await dir.remove();
  }
});
