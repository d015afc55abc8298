import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { commandFor, DEFAULT_KEYS, parseKeyMap } from './keys.js';
import { lockoutKey } from './pin.js';
import { callerDigits, envelope, summary } from './speech.js';

describe('key map', () => {
  it('keeps SEMS defaults and takes single overrides', () => {
    assert.deepEqual(
      [commandFor(DEFAULT_KEYS, '1'), commandFor(DEFAULT_KEYS, '2'), commandFor(DEFAULT_KEYS, '3'), commandFor(DEFAULT_KEYS, '4')],
      ['repeat', 'save', 'delete', 'startOver'],
    );
    const keys = parseKeyMap('previous=9, Next = 7, forward=6');
    assert.equal(commandFor(keys, '9'), 'previous');
    assert.equal(commandFor(keys, '7'), 'next');
    assert.equal(commandFor(keys, '6'), 'forward');
    assert.equal(commandFor(keys, '8'), undefined);
    assert.equal(commandFor(DEFAULT_KEYS, '8'), 'forward');
  });
  it('refuses unknown commands, non-DTMF keys and two commands on one key, naming them', () => {
    assert.throws(() => parseKeyMap('rewind=8'), /"rewind" is not a command/);
    assert.throws(() => parseKeyMap('next=x'), /"x" is not a DTMF key/);
    assert.throws(() => parseKeyMap('next=1'), /key 1 is given to both repeat and next/);
  });
});

describe('PIN lock-out', () => {
  it('keeps one count per mailbox however its domain is spelt', () => {
    assert.equal(lockoutKey({ did: 'EXAMPLE.org', uid: 'alice' }), lockoutKey({ did: 'example.ORG', uid: 'alice' }));
    assert.notEqual(lockoutKey({ did: 'example.org', uid: 'Alice' }), lockoutKey({ did: 'example.org', uid: 'alice' }), 'the user part is exact');
  });
});

describe('what the voicebox says', () => {
  const names = (items: ReturnType<typeof summary>) => items.map((i) => (i.kind === 'prompt' ? i.name : i.kind === 'number' ? i.value : i.kind));
  it('counts with singular, plural, none, and numbers in the language', () => {
    assert.deepEqual(names(summary({ language: 'de' }, { new: 21, saved: 1 })), ['you_have', 21, 'new_messages', 'and', 'one_saved_message']);
    assert.deepEqual(names(summary({ language: 'en' }, { new: 0, saved: 2 })), ['you_have', 'no_count', 'new_messages', 'and', 2, 'saved_messages']);
    // Every item in the caller's language, every prompt the domain's own recording where it has one.
    const de = summary({ language: 'de', domain: 'example.org' }, { new: 3, saved: 0 });
    assert.deepEqual(
      de.map((i) => (i.kind === 'prompt' ? `${i.name} ${i.language} ${i.domain}` : i.kind === 'number' ? `${i.value} ${i.language}` : i.kind)),
      ['you_have de example.org', '3 de', 'new_messages de example.org', 'and de example.org', 'no_count de example.org', 'saved_messages de example.org'],
    );
  });
  it('each language its form after "no" and after a number', () => {
    assert.deepEqual(
      names(summary({ language: 'fr' }, { new: 0, saved: 3 })),
      ['you_have', 'no_count', 'new_message', 'and', 3, 'saved_messages'],
      'aucun nouveau message',
    );
    assert.deepEqual(names(summary({ language: 'spanish' }, { new: 0, saved: 1 })), ['you_have', 'no_count', 'new_message', 'and', 'one_saved_message']);
    assert.deepEqual(names(summary({ language: 'it' }, { new: 2, saved: 0 })), ['you_have', 2, 'new_messages', 'and', 'no_count', 'saved_message']);
    // A language with more forms than one and many (CLDR's rules): Polish "2 nowe", "5 nowych".
    assert.deepEqual(names(summary({ language: 'pl' }, { new: 2, saved: 5 })), ['you_have', 2, 'new_messages_few', 'and', 5, 'saved_messages_many']);
  });
  it('the envelope in French, Spanish and Italian order', () => {
    const message = { recordedAt: '2026-11-23T14:05:00.000Z', sender: 'sip:+4930@example.org' };
    assert.deepEqual(names(envelope({ language: 'fr' }, message, 'UTC')).slice(1, 8), ['day_1', 23, 'month_11', 'envelope_at', 14, 'envelope_oclock', 5]);
    assert.deepEqual(names(envelope({ language: 'es' }, message, 'UTC')).slice(1, 7), ['day_1', 23, 'month_11', 'envelope_at', 14, 5]);
    assert.deepEqual(names(envelope({ language: 'it' }, { ...message, recordedAt: '2026-11-23T14:00:00.000Z' }, 'UTC')).slice(1, 7), [
      'day_1',
      23,
      'month_11',
      'envelope_at',
      14,
      'envelope_oclock',
    ]);
  });
  it('the envelope in the configured time zone, German word order, caller digits or unknown', () => {
    const message = { recordedAt: '2026-11-23T22:30:00.000Z', sender: 'sip:+4930123@example.org' };
    assert.deepEqual(names(envelope({ language: 'de' }, message, 'Europe/Berlin')), [
      'envelope_received',
      'day_1',
      23,
      'month_11',
      'envelope_at',
      23,
      'envelope_oclock',
      30,
      'envelope_from',
      'num_4',
      'num_9',
      'num_3',
      'num_0',
      'num_1',
      'num_2',
      'num_3',
    ]);
    assert.deepEqual(names(envelope({ language: 'german' }, message, 'Europe/Berlin')).slice(2, 4), [23, 'month_11'], "SEMS's lng=german is German too");
    assert.deepEqual(names(envelope({ language: 'en' }, { ...message, sender: 'sip:alice@example.org' }, 'UTC')).slice(-7), [
      'month_11',
      23,
      'envelope_at',
      22,
      30,
      'envelope_from',
      'envelope_unknown_caller',
    ]);
    assert.deepEqual(callerDigits('tel:+49301'), ['4', '9', '3', '0', '1']);
    assert.equal(callerDigits('"Bob" <sip:bob@x>'), undefined);
  });
});
