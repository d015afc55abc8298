import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCatalog, numberPieces } from './prompts.js';

test('English numbers', () => {
  assert.deepEqual(numberPieces(0, 'en'), ['num_0']);
  assert.deepEqual(numberPieces(13, 'en'), ['num_13']);
  assert.deepEqual(numberPieces(40, 'en'), ['num_40']);
  assert.deepEqual(numberPieces(42, 'en'), ['num_40', 'num_2']);
  assert.deepEqual(numberPieces(105, 'en'), ['num_1', 'num_hundred', 'num_5']);
  assert.deepEqual(numberPieces(9999, 'en'), ['num_9', 'num_thousand', 'num_9', 'num_hundred', 'num_90', 'num_9']);
});

test('German numbers: units before tens, "ein" in compounds, "eins" alone', () => {
  assert.deepEqual(numberPieces(1, 'de'), ['num_1']);
  assert.deepEqual(numberPieces(21, 'de'), ['num_1_combined', 'num_and', 'num_20']);
  assert.deepEqual(numberPieces(101, 'de'), ['num_1_combined', 'num_hundred', 'num_1']);
  assert.deepEqual(numberPieces(1234, 'de-AT'), ['num_1_combined', 'num_thousand', 'num_2', 'num_hundred', 'num_4', 'num_and', 'num_30']);
  assert.throws(() => numberPieces(10_000, 'de'));
});

test('every piece any number needs, and every language, is in the catalog', async () => {
  const catalog = await loadCatalog();
  assert.deepEqual(Object.keys(catalog.languages).sort(), ['de', 'en']);
  for (const language of ['en', 'de']) {
    const needed = new Set<string>();
    for (let n = 0; n <= 9999; n++) for (const piece of numberPieces(n, language)) needed.add(piece);
    for (const piece of needed) assert.ok(catalog.prompts[piece], `${piece} is missing`);
  }
  for (const name of ['default_greeting', 'enter_pin', 'you_have', 'one_new_message', 'new_messages', 'one_saved_message', 'saved_messages', 'no_messages', 'no_more_messages', 'ann_confirm', 'goodbye']) {
    assert.ok(catalog.prompts[name], `${name} is missing`);
  }
});
