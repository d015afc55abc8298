/** Application selection (docs/behaviour.md §1) and source trust. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MappingFileError, parseMappingFile, selectApplication, type SelectionInput } from './app-selection.js';
import { TrustedSources } from './trust.js';

const base: SelectionInput = { appName: undefined, ruri: 'sip:1000@vm.example.org', ruriUser: '1000', ruriAppParam: undefined };
const all = ['ruri-param', 'ruri-user', 'mapping'] as const;
const mapping = parseMappingFile(`
# comment
^sip:1001@ => annrecorder
^sip:(voicemail|voicebox)-[0-9]+@ => \\1
^sip:9 => nothing\\1
`);

describe('selectApplication', () => {
  it('takes P-App-Name first, case-insensitively', () => {
    assert.deepEqual(selectApplication({ ...base, appName: 'VoiceBox', ruriAppParam: 'voicemail' }, all, mapping), { ok: true, app: 'voicebox', by: 'header' });
  });
  it('refuses an unknown P-App-Name with 404 and a reason naming it', () => {
    assert.deepEqual(selectApplication({ ...base, appName: 'conference' }, all, mapping), {
      ok: false,
      status: 404,
      reason: 'Unknown Application "conference" (P-App-Name)',
    });
  });
  it('does not echo a P-App-Name that is no name at all (another header folded into it, say)', () => {
    assert.deepEqual(selectApplication({ ...base, appName: 'voiceboxq?P-App-Param: usr=alice;pin=1234' }, all, mapping), {
      ok: false,
      status: 404,
      reason: 'Unknown Application (not a name) (P-App-Name)',
    });
  });
  it('follows the configured order of fallbacks', () => {
    const input = { ...base, ruri: 'sip:voicebox@h;app=voicemail', ruriUser: 'voicebox', ruriAppParam: 'voicemail' };
    assert.deepEqual(selectApplication(input, ['ruri-param', 'ruri-user'], []), { ok: true, app: 'voicemail', by: 'ruri-param' });
    assert.deepEqual(selectApplication(input, ['ruri-user', 'ruri-param'], []), { ok: true, app: 'voicebox', by: 'ruri-user' });
  });
  it('skips an R-URI user that is not an application', () => {
    assert.deepEqual(selectApplication({ ...base, ruri: 'sip:1001@h', ruriUser: '1001' }, all, mapping), { ok: true, app: 'annrecorder', by: 'mapping' });
  });
  it('substitutes capture groups from the mapping file', () => {
    assert.deepEqual(selectApplication({ ...base, ruri: 'sip:voicebox-12@h', ruriUser: 'voicebox-12' }, all, mapping), {
      ok: true,
      app: 'voicebox',
      by: 'mapping',
    });
  });
  it('stops at the first matching mapping line even when its result is unknown', () => {
    const s = selectApplication({ ...base, ruri: 'sip:999@h', ruriUser: '999' }, all, mapping);
    assert.deepEqual(s, { ok: false, status: 404, reason: 'Unknown Application "nothing" (mapping line 5)' });
  });
  it('answers 404 when nothing matches, and ignores fallbacks not configured', () => {
    assert.deepEqual(selectApplication({ ...base, ruriUser: 'voicebox' }, ['mapping'], mapping), {
      ok: false,
      status: 404,
      reason: 'No Application For This Request-URI',
    });
  });
});

describe('parseMappingFile', () => {
  it('refuses malformed lines with their number', () => {
    assert.throws(
      () => parseMappingFile('x => voicemail\nno arrow here'),
      (e: unknown) => e instanceof MappingFileError && /line 2/.test(e.message),
    );
    assert.throws(() => parseMappingFile('([ => voicemail'), /line 1: bad regex/);
    assert.throws(() => parseMappingFile('^sip:1 => conference'), /"conference" is not an application/);
  });
});

describe('TrustedSources', () => {
  const trusted = new TrustedSources(['127.0.0.1', '10.1.0.0/16', 'fd00::/8']);
  it('matches addresses and ranges, IPv4-mapped and bracketed IPv6 included', () => {
    assert.equal(trusted.has('127.0.0.1'), true);
    assert.equal(trusted.has('10.1.200.3'), true);
    assert.equal(trusted.has('10.2.0.1'), false);
    assert.equal(trusted.has('[fd00::1]'), true);
    assert.equal(trusted.has('::ffff:127.0.0.1'), true);
    assert.equal(trusted.has('127.0.0.2'), false);
    assert.equal(trusted.has('not-an-ip'), false);
  });
  it('says what is wrong with a bad entry', () => {
    assert.equal(TrustedSources.check('10.0.0.0/33'), '"10.0.0.0/33" has a bad prefix length');
    assert.equal(TrustedSources.check('proxy.example.org'), '"proxy.example.org" is not an IP address or CIDR range');
    assert.equal(TrustedSources.check('::1'), undefined);
  });
});
