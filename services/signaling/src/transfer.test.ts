import { it } from 'node:test';
import assert from 'node:assert/strict';
import { statusOfSipfrag } from './transfer.js';

it('reads the status a REFER NOTIFY reports (message/sipfrag), and nothing from other bodies', () => {
  assert.deepEqual(statusOfSipfrag('SIP/2.0 100 Trying\r\n'), { status: 100, reason: 'Trying' });
  assert.deepEqual(statusOfSipfrag('SIP/2.0 200 OK\r\nContact: <sip:x@y>\r\n'), { status: 200, reason: 'OK' });
  assert.deepEqual(statusOfSipfrag('  SIP/2.0 486 Busy Here'), { status: 486, reason: 'Busy Here' });
  assert.deepEqual(statusOfSipfrag('SIP/2.0 603'), { status: 603, reason: '' });
  assert.equal(statusOfSipfrag(''), undefined);
  assert.equal(statusOfSipfrag('INVITE sip:x@y SIP/2.0'), undefined);
  assert.equal(statusOfSipfrag('SIP/2.0 99 Short'), undefined);
});
