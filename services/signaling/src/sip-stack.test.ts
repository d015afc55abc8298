/** The header helpers that MWI dialogs and caller identities depend on. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseUri, splitHeaderList, tagOf, transportOfUri, transportsOf, uriOf, withoutSipMessages, withoutTag } from './sip-stack.js';

describe('SIP header helpers', () => {
  it("reads drachtio-server's transports and the transport a URI asks for", () => {
    assert.deepEqual([...transportsOf('tcp/127.0.0.1:5060,udp/127.0.0.1:5060')], ['tcp', 'udp']);
    assert.deepEqual([...transportsOf('udp/10.0.0.1:5060, TLS/10.0.0.1:5061')], ['udp', 'tls']);
    assert.equal(transportOfUri('sip:proxy.example.org:5061;transport=TLS'), 'tls');
    assert.equal(transportOfUri('sip:10.0.0.5;lr;transport=tcp'), 'tcp');
    assert.equal(transportOfUri('sips:proxy.example.org'), 'tls');
    assert.equal(transportOfUri('sip:proxy.example.org:5060'), 'udp');
  });
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
    assert.deepEqual(splitHeaderList('"Doe, John \\" <x>" <sip:j@x.org>, sip:k@y.org'), ['"Doe, John \\" <x>" <sip:j@x.org>', 'sip:k@y.org']);
  });
  it('parses Request-URIs, parameters included', () => {
    assert.deepEqual(parseUri('sip:voicebox@vm.example.org:5080;app=voicemail'), { user: 'voicebox', host: 'vm.example.org', params: { app: 'voicemail' } });
    assert.equal(parseUri('not a uri')?.user, undefined);
  });
  it('keeps SIP messages out of console lines: their start line stays, headers and body go', () => {
    const message = 'INVITE sip:bob@vm.example.org SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1\r\nP-App-Param: usr=bob;pin=4711\r\n\r\nv=0\r\n';
    const line = withoutSipMessages(`Error: failed to parse sip message unable to parse incoming message: ${message}`);
    assert.match(line, /^Error: failed to parse sip message unable to parse incoming message: INVITE sip:bob@vm\.example\.org SIP\/2\.0 … /);
    assert.ok(!line.includes('4711') && !line.includes('P-App-Param'), line);
    assert.equal(withoutSipMessages('SIP/2.0 200 OK\r\nTo: <sip:a@b>'), 'SIP/2.0 200 OK … [rest of the SIP message not logged]');
    assert.equal(withoutSipMessages('no message here'), 'no message here');
    // Found by the fuzzer (SIP_FUZZ_SEED=311911771): a form feed in the Request-URI, a PIN after it.
    const mangled = withoutSipMessages(
      'unable to parse incoming message: INVITE sip:a\fice@127.\u001c.0.1 SIP/2.0\r\nP-App-Param: usr=a;pin=80417325;\r\n\r\n',
    );
    assert.ok(!mangled.includes('80417325') && !mangled.includes('P-App-Param'), mangled);
    const noVersion = withoutSipMessages('unable to parse incoming message: INVITE sip:alice@x SIP/2.\u00000\r\nP-App-Param: pin=4711\r\n');
    assert.ok(!noVersion.includes('4711'), noVersion);
  });
});
