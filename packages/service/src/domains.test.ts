import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './config.js';
import { Domains } from './domains.js';

async function withFile(text: string, test: (path: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vm-domains-'));
  try {
    await writeFile(join(dir, 'domains.json'), text);
    await test(join(dir, 'domains.json'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

it('gives each domain its settings, case-insensitively, and none to the others', async () => {
  const settings = {
    operator: 'sip:+4930123@example.org',
    operatorTransfer: 'bridge',
    operatorRecording: 'drop',
    maxSilenceMs: 5000,
    maxMessages: 100,
    quotaWarnPercent: 80,
    offerUrgent: false,
    retentionNewDays: 30,
    retentionSavedDays: 14,
    retentionWarnDays: 3,
  };
  await withFile(JSON.stringify({ 'Example.ORG': settings }), async (path) => {
    const domains = await Domains.load(path);
    assert.deepEqual(domains.of('example.org'), settings);
    assert.deepEqual(domains.of('other.net'), {});
  });
});

it('refuses a bad file with a line per problem naming the domain and the setting', async () => {
  const bad = {
    'example.org': { operator: 'sip:op@example.org?Replaces=x', maxSilenceMs: 100, colour: 'red', maxMessages: -1, quotaWarnPercent: 0 },
    'a/b': {},
  };
  await withFile(JSON.stringify(bad), async (path) => {
    await assert.rejects(Domains.load(path), (error) => {
      assert.ok(error instanceof ConfigError);
      const text = error.problems.join('\n');
      assert.match(text, /VM_DOMAINS_FILE \(.*domains\.json\): domain "example\.org" operator: must be a SIP URI/);
      assert.match(text, /domain "example\.org" maxSilenceMs: must be 0 \(off\) or at least 500/);
      assert.match(text, /domain "example\.org".*colour/);
      assert.match(text, /domain "example\.org" maxMessages: must be at least 0/);
      assert.match(text, /domain "example\.org" quotaWarnPercent: must be at least 1/);
      assert.match(text, /"a\/b"/);
      return true;
    });
  });
  await withFile('{ not json', async (path) => {
    await assert.rejects(Domains.load(path), (error) => error instanceof ConfigError && /is not JSON/.test(error.problems[0] ?? ''));
  });
  await assert.rejects(Domains.load('/nonexistent/domains.json'), (error) => error instanceof ConfigError && /cannot be read/.test(error.problems[0] ?? ''));
});

it("takes a domain's transcription policy and refuses a bad one", async () => {
  await withFile(
    JSON.stringify({ 'speech.example': { transcription: 'wait', transcriptionWaitMs: 30000 }, 'quiet.example': { transcription: 'off' } }),
    async (path) => {
      const domains = await Domains.load(path);
      assert.deepEqual(domains.of('speech.example'), { transcription: 'wait', transcriptionWaitMs: 30000 });
      assert.equal(domains.anyTranscribes, true);
    },
  );
  await withFile(JSON.stringify({ 'quiet.example': { transcription: 'off' } }), async (path) => assert.equal((await Domains.load(path)).anyTranscribes, false));
  await withFile(JSON.stringify({ 'speech.example': { transcription: 'always', transcriptionWaitMs: 3_600_000 } }), async (path) => {
    await assert.rejects(Domains.load(path), (error) => {
      assert.ok(error instanceof ConfigError);
      const text = error.problems.join('\n');
      assert.match(text, /domain "speech\.example" transcription: .*"off"\|"on"\|"wait"/);
      assert.match(text, /domain "speech\.example" transcriptionWaitMs: must be at most 600000/);
      return true;
    });
  });
});
