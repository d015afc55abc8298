/** P-App-Param: every rule of docs/behaviour.md §1, the SEMS seeds' examples, and a fuzz property. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AppParamError, parseAppParamHeader, parseMode, resolveAppParams, type AppParamPolicy, type RequestDefaults } from './app-params.js';

const request: RequestDefaults = { ruriUser: '1000', ruriHost: 'iptel.org', fromUri: 'sip:sayer@iptel.org' };
const policy: AppParamPolicy = { defaultMode: 'voicemail', defaultLanguage: 'en', extraKeys: ['company'] };
const entries = (header: string) => Object.fromEntries(parseAppParamHeader(header));

describe('parseAppParamHeader', () => {
  it('splits key=value pairs on ;', () => {
    assert.deepEqual(entries('usr=alice;dom=example.org'), { usr: 'alice', dom: 'example.org' });
  });
  it('lower-cases keys (keys are case-insensitive)', () => {
    assert.deepEqual(entries('USR=Alice;Email-Address=a@b.org'), { usr: 'Alice', 'email-address': 'a@b.org' });
  });
  it('allows spaces around keys, = and values', () => {
    assert.deepEqual(entries('  usr =  alice ;\tdom= example.org  '), { usr: 'alice', dom: 'example.org' });
  });
  it('protects ; inside \'…\' and "…" quotes, and keeps inner spaces', () => {
    assert.deepEqual(entries(`snd='"Bob; Jr" <sip:bob@x.org>';eml="a@b.org";lng=de`), {
      snd: '"Bob; Jr" <sip:bob@x.org>',
      eml: 'a@b.org',
      lng: 'de',
    });
    assert.deepEqual(entries(`x = ' a;b ' ;y=1`), { x: ' a;b ', y: '1' });
  });
  it('lets a backslash escape a quote inside quotes', () => {
    assert.deepEqual(entries(String.raw`x='it\'s';y="a\"b"`), { x: "it's", y: 'a"b' });
  });
  it('skips empty segments and the trailing ; of the SEMS route fragments', () => {
    assert.deepEqual(entries(';;usr=a;;dom=b;'), { usr: 'a', dom: 'b' });
    assert.deepEqual(entries(''), {});
  });
  it('keeps the first of a repeated key', () => {
    assert.deepEqual(entries('usr=first;USR=second'), { usr: 'first' });
  });
  it('keeps empty values (they count as not given later)', () => {
    assert.deepEqual(entries("mod=;eml='';usr=x"), { mod: '', eml: '', usr: 'x' });
  });
  it("parses the seeds' examples", () => {
    assert.deepEqual(entries('usr=sayer;dom=iptel.org;lng=en;uid=3ab0a114-ceff-11da-8607-0002b3abca3a;did=2f2091f5-ceff-11da-8220-0002b338cf3a;'), {
      usr: 'sayer',
      dom: 'iptel.org',
      lng: 'en',
      uid: '3ab0a114-ceff-11da-8607-0002b3abca3a',
      did: '2f2091f5-ceff-11da-8220-0002b338cf3a',
    });
    assert.deepEqual(entries("mod=box;eml='alice@example.org';usr=alice;snd='sip:bob@example.net';dom=example.org;uid=u1;did=d1;"), {
      mod: 'box',
      eml: 'alice@example.org',
      usr: 'alice',
      snd: 'sip:bob@example.net',
      dom: 'example.org',
      uid: 'u1',
      did: 'd1',
    });
    assert.deepEqual(entries('usr=alice;dom=example.org;lng=en;uid=u1;did=d1;typ=vm;'), {
      usr: 'alice',
      dom: 'example.org',
      lng: 'en',
      uid: 'u1',
      did: 'd1',
      typ: 'vm',
    });
  });
  for (const [header, message] of [
    ["usr='alice", /unterminated single quote/],
    ['usr="alice', /unterminated double quote/],
    ["usr='alice'x;dom=b", /text after the closing quote/],
    ['usr;dom=b', /"usr" has no value/],
    ['usr', /"usr" has no value/],
    ['=x', /key "" is not a valid name/],
    ['us r=x', /key "us r" is not a valid name/],
    ['a\u0000b=x', /key "a\?b" is not a valid name/],
    [`x=${'a'.repeat(5000)}`, /longer than 4096/],
  ] as const) {
    it(`refuses ${JSON.stringify(header.slice(0, 20))}`, () => {
      assert.throws(
        () => parseAppParamHeader(header),
        (e: unknown) => e instanceof AppParamError && message.test(e.message),
      );
    });
  }
});

describe('resolveAppParams', () => {
  it('applies the docs/behaviour.md §1 defaults when nothing is given', () => {
    assert.deepEqual(resolveAppParams(undefined, 'voicebox', request, policy), {
      user: '1000',
      domain: 'iptel.org',
      uid: '1000',
      did: 'iptel.org',
      sender: 'sip:sayer@iptel.org',
      mode: 'voicemail',
      language: 'en',
      greetingType: 'vm',
      extra: {},
    });
  });
  it('uses usr/dom as the ids unless uid/did are given', () => {
    const p = resolveAppParams('usr=alice;dom=example.org', 'voicebox', request, policy);
    assert.equal(p.uid, 'alice');
    assert.equal(p.did, 'example.org');
    const q = resolveAppParams('usr=alice;dom=example.org;uid=U1;did=d1', 'voicebox', request, policy);
    assert.deepEqual([q.user, q.domain, q.uid, q.did], ['alice', 'example.org', 'U1', 'd1']);
  });
  it('keeps domains in lower case and users exactly as given: one mailbox however the domain is spelt', () => {
    const p = resolveAppParams('usr=Alice;dom=EXAMPLE.org;uid=U1;did=D1.Example', 'voicebox', request, policy);
    assert.deepEqual([p.user, p.domain, p.uid, p.did], ['Alice', 'example.org', 'U1', 'd1.example']);
    const fromRuri = resolveAppParams(undefined, 'voicebox', { ...request, ruriHost: 'IPTEL.org' }, policy);
    assert.equal(fromRuri.did, 'iptel.org');
  });
  it('accepts long names, and the short name wins when both are given', () => {
    const p = resolveAppParams('User=long;usr=short;Domain=d.org;Language=de;Type=busy;PIN=1234;UserID=x', 'voicebox', request, policy);
    assert.deepEqual([p.user, p.domain, p.language, p.greetingType, p.pin, p.uid], ['short', 'd.org', 'de', 'busy', '1234', 'x']);
    const q = resolveAppParams('Sender=sip:long@x.org;snd=sip:short@x.org;Email-Address=l@x.org;eml=s@x.org', 'voicemail', request, policy);
    assert.deepEqual([q.sender, q.email], ['sip:short@x.org', 's@x.org']);
  });
  it('maps SEMS mode numbers and names, case-insensitively', () => {
    assert.deepEqual(['0', '1', '2', '3', 'BOX', 'Ann'].map(parseMode), ['voicemail', 'box', 'both', 'ann', 'box', 'ann']);
    assert.throws(() => parseMode('4'), /mod "4" is not one of voicemail, box, both, ann or 0-3/);
  });
  it('treats empty values as not given (unset proxy AVPs)', () => {
    const p = resolveAppParams("mod=;eml='';usr=alice;snd='';dom=example.org;uid=;did=;", 'voicemail', request, { ...policy, defaultMode: 'box' });
    assert.deepEqual([p.mode, 'email' in p, p.uid, p.did, p.sender], ['box', false, 'alice', 'example.org', 'sip:sayer@iptel.org']);
  });
  it('requires eml in the modes that mail', () => {
    assert.throws(() => resolveAppParams('mod=voicemail', 'voicemail', request, policy), /eml \(or P-Email-Address\) is required in mode voicemail/);
    assert.throws(() => resolveAppParams('mod=both', 'voicemail', request, policy), /eml \(or P-Email-Address\) is required in mode both/);
    assert.equal(resolveAppParams('mod=box', 'voicemail', request, policy).mode, 'box');
  });
  it('takes the operator URI from opr (or Operator), quoted or not', () => {
    assert.equal(
      resolveAppParams("usr=a;opr='sip:+4930123@example.org;user=phone'", 'voicemail', request, { ...policy, defaultMode: 'box' }).operator,
      'sip:+4930123@example.org;user=phone',
    );
    assert.equal(resolveAppParams('usr=a;Operator=sip:op@pbx.example.org:5080;mod=box', 'voicemail', request, policy).operator, 'sip:op@pbx.example.org:5080');
    assert.equal(resolveAppParams('usr=a;opr=;mod=box', 'voicemail', request, policy).operator, undefined);
  });
  it('takes the silence that ends a message from sil (or Max-Silence), in whole seconds', () => {
    assert.equal(resolveAppParams('usr=a;sil=5;mod=box', 'voicemail', request, policy).maxSilenceS, 5);
    assert.equal(resolveAppParams('usr=a;Max-Silence=0;mod=box', 'voicemail', request, policy).maxSilenceS, 0);
    assert.equal(resolveAppParams('usr=a;mod=box', 'voicemail', request, policy).maxSilenceS, undefined);
  });
  it('accepts every lng SEMS accepts: tags, language names, any folder name', () => {
    for (const lng of ['en', 'de-AT', 'english', 'german', 'French', 'klingon']) {
      assert.equal(resolveAppParams(`usr=a;lng=${lng}`, 'voicebox', request, policy).language, lng);
    }
  });
  it('takes eml and lng from P-Email-Address and P-Language (the seed HOWTO), P-App-Param winning', () => {
    const seed = { ...request, emailHeader: ' alex@iptel.org ', languageHeader: 'german' };
    const p = resolveAppParams(undefined, 'voicemail', seed, policy);
    assert.deepEqual([p.mode, p.email, p.language], ['voicemail', 'alex@iptel.org', 'german']);
    const q = resolveAppParams("eml='alice@mymail.org';lng=english", 'voicemail', seed, policy);
    assert.deepEqual([q.email, q.language], ['alice@mymail.org', 'english']);
    const empty = resolveAppParams('mod=box', 'voicemail', { ...request, emailHeader: '', languageHeader: ' ' }, policy);
    assert.deepEqual(['email' in empty, empty.language], [false, 'en'], 'an unset AVP gives an empty header: not given');
    assert.throws(
      () => resolveAppParams(undefined, 'voicemail', { ...request, emailHeader: 'a@b.org, c@d.org' }, policy),
      /P-Email-Address: must be a single e-mail address/,
    );
    assert.throws(() => resolveAppParams(undefined, 'voicebox', { ...request, languageHeader: '../x' }, policy), /P-Language: must be a language tag/);
    assert.throws(() => resolveAppParams('mod=both', 'voicemail', { ...request, emailHeader: '' }, policy), /eml \(or P-Email-Address\) is required/);
  });
  it('keeps only the configured extra keys', () => {
    const p = resolveAppParams('usr=a;company=ACME Inc;other=x', 'voicebox', request, policy);
    assert.deepEqual(p.extra, { company: 'ACME Inc' });
  });
  for (const [header, message] of [
    ['usr=a..b', /^P-App-Param usr: must not contain "\.\."$/],
    ['usr=../etc', /^P-App-Param usr: may contain only/],
    ['uid=a/b', /uid: may contain only/],
    ['did=' + 'x'.repeat(200), /did: must be at most 128/],
    ['eml=a@b.org,c@d.org', /eml: must be a single e-mail address/],
    ["eml='a@b.org\r\nBcc: x@y.org'", /eml: must be a single e-mail address/],
    ['lng=../../x', /lng: must be a language tag/],
    ['typ=VM/../x', /typ: may contain only/],
    ['pin=12a4', /pin: must be 1 to 16 digits/],
    ["snd='bob\u0007'", /snd: must not contain control characters/],
    ["opr='sip:op@example.org?Replaces=abc'", /opr: must be a SIP URI/],
    ["opr='sip:op@example.org>,<sip:eve@evil.org'", /opr: must be a SIP URI/],
    ['opr=tel:+4930123', /opr: must be a SIP URI/],
    ['sil=3s', /sil: must be whole seconds, 0 to 600/],
    ['sil=601', /sil: must be whole seconds, 0 to 600/],
    ['sil=-1', /sil: must be whole seconds, 0 to 600/],
  ] as const) {
    it(`refuses ${JSON.stringify(header.slice(0, 24))} with a reason naming the key`, () => {
      assert.throws(
        () => resolveAppParams(header, 'voicebox', request, policy),
        (e: unknown) => e instanceof AppParamError && message.test(e.message),
      );
    });
  }
  it('needs a user and a domain from somewhere', () => {
    assert.throws(() => resolveAppParams(undefined, 'voicebox', { ...request, ruriUser: undefined }, policy), /no mailbox user/);
  });
});

describe('property: random input', () => {
  const alphabet = fc.constantFrom(...'ab=;\'" \\\t\r\n\u0000xU-_.@/'.split(''));
  const headers = fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: alphabet, maxLength: 80 }));

  it('never throws anything but an AppParamError', () => {
    fc.assert(
      fc.property(headers, (header) => {
        for (const parse of [() => parseAppParamHeader(header), () => resolveAppParams(header, 'voicemail', request, policy)]) {
          try {
            parse();
          } catch (error) {
            if (!(error instanceof AppParamError)) throw error;
            // The message goes into a SIP reason phrase: one line, bounded.
            assert.ok(!/[\r\n]/.test(error.message) && !error.message.includes('\u0000'), error.message);
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('round-trips any quoted values', () => {
    const value = fc.string({ maxLength: 30 }).filter((s) => !/[\\']/.test(s));
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_-]{0,10}$/), value, { maxKeys: 6, noNullPrototype: true }), (dict) => {
        const header = Object.entries(dict)
          .map(([k, v]) => `${k} = '${v}'`)
          .join(' ; ');
        assert.deepEqual(Object.fromEntries(parseAppParamHeader(header)), { ...dict });
      }),
    );
  });
});
