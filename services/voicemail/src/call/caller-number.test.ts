import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { withNumberForPeople } from './caller-number.js';

describe("the caller's number for people", () => {
  const caller = (number: string) => ({ name: 'Bob', number, withheld: false });

  it("makes national numbers E.164 with the domain's country and writes them the country's way", () => {
    assert.deepEqual(withNumberForPeople(caller('0301234567'), 'DE'), { name: 'Bob', number: '+49301234567', numberText: '030 1234567', withheld: false });
    assert.deepEqual(withNumberForPeople(caller('004930123456'), 'DE'), { name: 'Bob', number: '+4930123456', numberText: '030 123456', withheld: false });
    assert.deepEqual(withNumberForPeople(caller('+442079460000'), 'DE'), {
      name: 'Bob',
      number: '+442079460000',
      numberText: '+44 20 7946 0000',
      withheld: false,
    });
    assert.equal(withNumberForPeople(caller('2133734253'), 'US')?.numberText, '(213) 373-4253');
  });

  it('writes global numbers internationally without a country, and leaves short numbers as dialled', () => {
    assert.equal(withNumberForPeople(caller('+4930123456'), undefined)?.numberText, '+49 30 123456');
    assert.deepEqual(withNumberForPeople(caller('1234'), 'DE'), { name: 'Bob', number: '1234', numberText: '1234', withheld: false });
    assert.deepEqual(withNumberForPeople(caller('0301234567'), undefined), { name: 'Bob', number: '0301234567', numberText: '0301234567', withheld: false });
  });

  it('leaves a withheld caller and one without number alone', () => {
    assert.deepEqual(withNumberForPeople({ withheld: true }, 'DE'), { withheld: true });
    assert.deepEqual(withNumberForPeople({ name: 'Bob', withheld: false }, 'DE'), { name: 'Bob', withheld: false });
    assert.equal(withNumberForPeople(undefined, 'DE'), undefined);
  });
});
