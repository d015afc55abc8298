import { it } from 'node:test';
import assert from 'node:assert/strict';
import { EmailAddressSchema, GreetingTypeSchema, MailboxIdSchema, MessageIdSchema, normaliseMailbox, SenderSchema, SipUriSchema } from './ids.js';

const hostile = ['', '..', '../x', 'a/b', '/', 'a\\b', 'x\u0000', 'cr\rlf', 'new\nline', 'tab\t', 'a'.repeat(129), ' lead', '.dot', '-dash', 'a..b', 'ü'];

it('refuses hostile mailbox ids and accepts the ones proxies send', () => {
  for (const value of hostile) assert.equal(MailboxIdSchema.safeParse(value).success, false, JSON.stringify(value));
  for (const value of ['alice', 'iptel.org', '3ab0a114-ceff-11da-8607-0002b3abca3a', '+4930123456', 'a.b_c@d', 'a'.repeat(128)]) {
    assert.equal(MailboxIdSchema.safeParse(value).success, true, value);
  }
});

it('refuses hostile greeting types and message ids', () => {
  for (const value of [...hostile, 'VM', 'a'.repeat(33)]) assert.equal(GreetingTypeSchema.safeParse(value).success, false, JSON.stringify(value));
  for (const value of ['vm', 'busy', 'away', 'unavailable', 'temp-1']) assert.equal(GreetingTypeSchema.safeParse(value).success, true, value);
  for (const value of [...hostile, '20261123T081847123Z-3FA9C0D2B4E1', '20261123T081847123Z-3fa9c0d2b4e1/..']) {
    assert.equal(MessageIdSchema.safeParse(value).success, false, JSON.stringify(value));
  }
});

it('accepts one e-mail address and nothing that could inject headers or add recipients', () => {
  assert.equal(EmailAddressSchema.safeParse('alice@mymail.org').success, true);
  for (const value of [
    'alice@mymail.org\r\nBcc: eve@x.org',
    'a@b.org, c@d.org',
    'Alice <alice@mymail.org>',
    'alice',
    '@mymail.org',
    'alice@localhost',
    "'alice@mymail.org'",
  ]) {
    assert.equal(EmailAddressSchema.safeParse(value).success, false, JSON.stringify(value));
  }
});

it('keeps senders printable', () => {
  assert.equal(SenderSchema.safeParse('sip:+4930123@carrier.example;user=phone').success, true);
  assert.equal(SenderSchema.safeParse('sip:a@b\r\nX-Evil: 1').success, false);
});

it('treats a mailbox domain case-insensitively and its user exactly', () => {
  assert.deepEqual(normaliseMailbox({ did: 'Example.ORG', uid: 'Alice' }), { did: 'example.org', uid: 'Alice' });
  assert.deepEqual(normaliseMailbox({ did: 'example.org', uid: '+4930123' }), { did: 'example.org', uid: '+4930123' });
});

it('accepts the SIP URIs an operator is reached at, and nothing that could break out of a header', () => {
  for (const value of [
    'sip:operator@example.org',
    'sips:0@pbx.example.org:5061',
    'sip:+4930123456@carrier.example;user=phone',
    'sip:operator@10.0.0.5:5080;transport=tcp',
    'sip:attendant@[2001:db8::1]:5060',
    'sip:example.org',
    'SIP:Operator%20Desk@Example.ORG',
  ]) {
    assert.equal(SipUriSchema.safeParse(value).success, true, value);
  }
  for (const value of [
    '',
    'operator@example.org',
    'tel:+4930123',
    'http://example.org',
    'sip:op@example.org?Replaces=abc%40x',
    'sip:op@example.org>;x=<sip:evil@x',
    '<sip:op@example.org>',
    'sip:op@example.org, sip:eve@x.org',
    'sip:op@example.org\r\nX-Evil: 1',
    'sip:op erator@example.org',
    'sip:op:secret@example.org',
    'sip:"op"@example.org',
    'sip:op@example.org:0',
    'sip:op@example.org:70000',
    'sip:op@-bad-.org',
    'sip:op@%41.org',
    `sip:${'a'.repeat(250)}@example.org`,
  ]) {
    assert.equal(SipUriSchema.safeParse(value).success, false, JSON.stringify(value));
  }
});
