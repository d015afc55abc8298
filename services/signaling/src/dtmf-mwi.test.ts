/** INFO digits and the RFC 3842 message summary. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { digitFromInfo } from './dtmf.js';
import { mailboxUri, messageSummary } from './mwi-summary.js';

describe('digitFromInfo', () => {
  it('reads application/dtmf-relay', () => {
    assert.equal(digitFromInfo('application/dtmf-relay', 'Signal=5\r\nDuration=160\r\n'), '5');
    assert.equal(digitFromInfo('Application/DTMF-Relay; charset=x', 'Duration=100\r\nsignal = #\r\n'), '#');
    assert.equal(digitFromInfo('application/dtmf-relay', 'Signal=10\r\n'), '*');
    assert.equal(digitFromInfo('application/dtmf-relay', 'Signal=a\r\n'), 'A');
  });
  it('reads application/dtmf', () => {
    assert.equal(digitFromInfo('application/dtmf', '7'), '7');
    assert.equal(digitFromInfo('application/dtmf', '11\r\n'), '#');
  });
  it('ignores other bodies and junk', () => {
    assert.equal(digitFromInfo('application/media_control+xml', '<x/>'), undefined);
    assert.equal(digitFromInfo(undefined, 'Signal=5'), undefined);
    assert.equal(digitFromInfo('application/dtmf-relay', 'Signal=55\r\n'), undefined);
    assert.equal(digitFromInfo('application/dtmf', ''), undefined);
  });
});

describe('messageSummary', () => {
  it('writes the RFC 3842 body with urgent counts', () => {
    assert.equal(
      messageSummary('sip:alice@example.org', { new: 2, saved: 8, urgentNew: 1, urgentSaved: 0 }),
      'Messages-Waiting: yes\r\nMessage-Account: sip:alice@example.org\r\nVoice-Message: 2/8 (1/0)\r\n',
    );
    assert.match(
      messageSummary('sip:a@b', { new: 0, saved: 3, urgentNew: 0, urgentSaved: 1 }),
      /^Messages-Waiting: no\r\n.*Voice-Message: 0\/3 \(0\/1\)\r\n$/s,
    );
  });
  it('fills the account template', () => {
    assert.equal(mailboxUri('sip:{uid}@{did}', { uid: 'u1', did: 'd.org' }), 'sip:u1@d.org');
    assert.equal(mailboxUri('sip:vm-{uid}@mwi.example.org;did={did}', { uid: 'u1', did: 'd.org' }), 'sip:vm-u1@mwi.example.org;did=d.org');
  });
});
