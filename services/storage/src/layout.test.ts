import { it } from 'node:test';
import assert from 'node:assert/strict';
import { classifyMailboxKey, greetingKey, mailboxPrefix, messageAudioKey, messageMetaKey, readMarkerKey, urgentMarkerKey } from './layout.js';

const mailbox = { did: 'example.org', uid: 'alice' };
const id = '20261123T081847123Z-3fa9c0d2b4e1';

it('puts every object of a mailbox under its prefix and classifies it back', () => {
  const prefix = mailboxPrefix(mailbox);
  assert.equal(prefix, 'mailboxes/example.org/alice/');
  assert.deepEqual(classifyMailboxKey(prefix, messageMetaKey(mailbox, id)), { kind: 'message', id });
  assert.deepEqual(classifyMailboxKey(prefix, messageAudioKey(mailbox, id)), { kind: 'audio', id });
  assert.deepEqual(classifyMailboxKey(prefix, readMarkerKey(mailbox, id)), { kind: 'read', id });
  assert.deepEqual(classifyMailboxKey(prefix, urgentMarkerKey(mailbox, id)), { kind: 'urgent', id });
  assert.deepEqual(classifyMailboxKey(prefix, greetingKey(mailbox, 'busy')), { kind: 'greeting', type: 'busy' });
});

it('ignores keys it does not know, so stray objects never count as messages', () => {
  const prefix = mailboxPrefix(mailbox);
  for (const key of [`${prefix}messages/${id}.tmp`, `${prefix}other/${id}`, `${prefix}messages/a/b.json`, 'mailboxes/example.org/bob/messages/x.json']) {
    assert.equal(classifyMailboxKey(prefix, key), null, key);
  }
});
