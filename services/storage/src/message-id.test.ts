import { it } from 'node:test';
import assert from 'node:assert/strict';
import { MessageIdSchema } from '@sipvm/contracts';
import { newMessageId } from './message-id.js';

const mailbox = { did: 'example.org', uid: 'alice' };
const at = new Date('2026-11-23T08:18:47.123Z');

it('starts with the recording time, so ids sort by time', () => {
  const id = newMessageId(at, mailbox);
  assert.match(id, /^20261123T081847123Z-[0-9a-f]{12}$/);
  assert.ok(MessageIdSchema.safeParse(id).success);
  assert.ok(newMessageId(new Date('2026-11-23T08:18:48Z'), mailbox) > id);
});

it('never repeats within one millisecond without an idempotency key', () => {
  const ids = new Set(Array.from({ length: 10_000 }, () => newMessageId(at, mailbox)));
  assert.equal(ids.size, 10_000);
});

it('is the same for the same idempotency key and mailbox, and differs otherwise', () => {
  assert.equal(newMessageId(at, mailbox, 'rec-1'), newMessageId(at, mailbox, 'rec-1'));
  assert.notEqual(newMessageId(at, mailbox, 'rec-1'), newMessageId(at, mailbox, 'rec-2'));
  assert.notEqual(newMessageId(at, mailbox, 'rec-1'), newMessageId(at, { ...mailbox, uid: 'bob' }, 'rec-1'));
});
