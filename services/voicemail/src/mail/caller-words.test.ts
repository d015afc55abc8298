import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { callerText, lengthInWords } from './caller-words.js';

describe('the caller and the length in words', () => {
  it("says the length in the mail's language", () => {
    assert.equal(lengthInWords(9_000, 'en'), '9 seconds');
    assert.equal(lengthInWords(1_000, 'english'), '1 second');
    assert.equal(lengthInWords(65_400, 'en'), '1 minute, 5 seconds');
    assert.equal(lengthInWords(120_000, 'en'), '2 minutes');
    assert.equal(lengthInWords(9_000, 'german'), '9 Sekunden');
    assert.equal(lengthInWords(61_000, 'de-AT'), '1 Minute, 1 Sekunde');
    assert.equal(lengthInWords(9_000, 'klingon'), '9 seconds');
  });

  it('names the caller by name and number, either, withheld, or the sender', () => {
    assert.equal(
      callerText({ name: 'Bob Smith', number: '+49301234567', numberText: '030 1234567', withheld: false }, 'sip:x@y', 'en'),
      'Bob Smith (030 1234567)',
    );
    assert.equal(callerText({ number: '+49301234567', numberText: '030 1234567', withheld: false }, 'sip:x@y', 'en'), '030 1234567');
    assert.equal(callerText({ name: 'Bob', withheld: false }, 'sip:bob@example.org', 'en'), 'Bob');
    assert.equal(callerText({ withheld: true }, 'sip:anonymous@anonymous.invalid', 'de'), 'unterdrückte Rufnummer');
    assert.equal(callerText({ withheld: true }, 'sip:anonymous@anonymous.invalid', 'klingon'), 'withheld number');
    assert.equal(callerText(undefined, 'sip:bob@example.org', 'en'), 'sip:bob@example.org');
  });
});
