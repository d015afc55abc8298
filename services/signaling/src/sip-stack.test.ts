/** The header helpers that MWI dialogs and caller identities depend on. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseUri, tagOf, uriOf, withoutTag } from './sip-stack.js';
import { splitHeaderList } from './mwi-subscriptions.js';

describe('SIP header helpers', () => {
  it('takes the URI out of a name-addr or an addr-spec', () => {
    assert.equal(uriOf('"Bob; Jr" <sip:bob@example.org;transport=tcp>;tag=abc'), 'sip:bob@example.org;transport=tcp');
    assert.equal(uriOf('sip:bob@example.org;tag=abc'), 'sip:bob@example.org');
  });
  it('finds the tag outside the URI only', () => {
    assert.equal(tagOf('<sip:a@b;tag=inside>;tag=outside'), 'outside');
    assert.equal(tagOf('<sip:a@b;tag=inside>'), undefined);
    assert.equal(tagOf('sip:a@b;tag=x1'), 'x1');
    assert.equal(withoutTag('"A" <sip:a@b;tag=inside>;tag=outside;foo=1'), '"A" <sip:a@b;tag=inside>;foo=1');
  });
  it('splits Record-Route lists on commas outside <>', () => {
    assert.deepEqual(splitHeaderList('<sip:p1.example.org;lr>, <sip:p2.example.org;lr;x=a,b>'), ['<sip:p1.example.org;lr>', '<sip:p2.example.org;lr;x=a,b>']);
  });
  it('parses Request-URIs, parameters included', () => {
    assert.deepEqual(parseUri('sip:voicebox@vm.example.org:5080;app=voicemail'), { user: 'voicebox', host: 'vm.example.org', params: { app: 'voicemail' } });
    assert.equal(parseUri('not a uri')?.user, undefined);
  });
});
