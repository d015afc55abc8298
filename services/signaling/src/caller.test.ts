import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ANONYMOUS_SENDER, callerOf, displayName, numberOf } from './caller.js';

describe('the caller as a person', () => {
  it('takes the display name, quoted or not, unescaped and without control characters', () => {
    assert.equal(displayName('"Bob Smith" <sip:bob@example.org>;tag=1'), 'Bob Smith');
    assert.equal(displayName('"Say \\"hi\\"" <sip:x@y>'), 'Say "hi"');
    assert.equal(displayName('Bob <sip:bob@example.org>'), 'Bob');
    assert.equal(displayName('<sip:bob@example.org>;tag=1'), undefined);
    assert.equal(displayName('sip:bob@example.org;tag=1'), undefined);
    assert.equal(displayName('""  <sip:bob@example.org>'), undefined);
    assert.equal(displayName('"Evil\r\nBcc: x" <sip:a@b>'), 'Evil Bcc: x');
    assert.equal(displayName('"Jürgen Müller" <sip:j@b>'), 'Jürgen Müller');
    assert.equal([...(displayName(`"${'é'.repeat(100)}" <sip:a@b>`) ?? '')].length, 64);
  });

  it('finds the number in tel: URIs, user=phone and user parts of digits', () => {
    assert.equal(numberOf('tel:+49-30-1234567'), '+49301234567');
    assert.equal(numberOf('tel:0301234567;phone-context=example.org'), '0301234567');
    assert.equal(numberOf('sip:+4930123456@example.org;user=phone'), '+4930123456');
    assert.equal(numberOf('sip:030-123.456@example.org;user=phone'), '030123456');
    assert.equal(numberOf('sip:0301234567@example.org'), '0301234567');
    assert.equal(numberOf('sip:bob@example.org'), undefined);
    assert.equal(numberOf('sip:+49bob@example.org;user=phone'), undefined);
    assert.equal(numberOf('+4930123456'), '+4930123456');
    assert.equal(numberOf('mailto:x@y'), undefined);
  });

  it('withholds the caller who asked for privacy or called anonymously (RFC 3323)', () => {
    for (const [from, privacy] of [
      ['"Bob" <sip:+4930123@example.org>;tag=1', 'id'],
      ['"Bob" <sip:+4930123@example.org>;tag=1', 'header; user'],
      ['"Anonymous" <sip:anonymous@anonymous.invalid>;tag=1', undefined],
      ['<sip:anonymous@example.org>;tag=1', undefined],
    ] as const) {
      assert.deepEqual(
        callerOf({ from, privacy, sender: 'sip:+4930123@example.org' }),
        { caller: { withheld: true }, sender: ANONYMOUS_SENDER },
        `${from} ${privacy}`,
      );
    }
    assert.deepEqual(callerOf({ from: '"Bob" <sip:+4930123@example.org>;tag=1', privacy: 'none', sender: 'sip:+4930123@example.org' }), {
      caller: { name: 'Bob', number: '+4930123', withheld: false },
      sender: 'sip:+4930123@example.org',
    });
  });
});
