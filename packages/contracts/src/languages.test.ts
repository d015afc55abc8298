import { it } from 'node:test';
import assert from 'node:assert/strict';
import { LanguageSchema } from './ids.js';
import { digitOrder, languageFolders, languageTag, parseDigitOrders, primaryLanguage } from './languages.js';

it('accepts every lng a SEMS installation uses (tags, names, folder names) and nothing that is not a folder name', () => {
  for (const value of ['en', 'de-AT', 'pt_BR', 'english', 'German', 'klingon', 'lang2', 'x-custom.v2']) {
    assert.equal(LanguageSchema.safeParse(value).success, true, value);
  }
  for (const value of ['', '..', 'a/b', '../en', 'en..', '.hidden', '-x', 'de AT', 'ü', 'x\n', 'a'.repeat(33)]) {
    assert.equal(LanguageSchema.safeParse(value).success, false, JSON.stringify(value));
  }
});

it('maps SEMS language names and tags to tags', () => {
  assert.equal(languageTag('english'), 'en');
  assert.equal(languageTag('German'), 'de');
  assert.equal(languageTag('french'), 'fr');
  assert.equal(languageTag('spanish'), 'es');
  assert.equal(languageTag('italian'), 'it');
  assert.equal(languageTag('de-AT'), 'de-AT');
  assert.equal(languageTag('pt_BR'), 'pt-BR');
  assert.equal(languageTag('EN'), 'en');
  assert.equal(languageTag('klingon'), undefined);
  assert.equal(primaryLanguage('de_CH'), 'de');
  assert.equal(primaryLanguage('german'), 'de');
});

it('looks for a language under its own name first (as SEMS), then its tag, primary tag and SEMS name', () => {
  assert.deepEqual(languageFolders('german'), ['german', 'de']);
  assert.deepEqual(languageFolders('de'), ['de', 'german']);
  assert.deepEqual(languageFolders('de-AT'), ['de-AT', 'de', 'german']);
  assert.deepEqual(languageFolders('English'), ['English', 'en', 'english']);
  assert.deepEqual(languageFolders('klingon'), ['klingon']);
});

it('puts units first in German, Dutch and Danish, tens first elsewhere, unless configured', () => {
  assert.equal(digitOrder('german'), 'left');
  assert.equal(digitOrder('de-AT'), 'left');
  assert.equal(digitOrder('nl'), 'left');
  assert.equal(digitOrder('english'), 'right');
  assert.equal(digitOrder('klingon'), 'right');
  const { orders, problems } = parseDigitOrders('english(digits=right);german(digits=left);klingon(digits=left);french');
  assert.deepEqual(problems, []);
  assert.equal(digitOrder('klingon', orders), 'left');
  assert.equal(digitOrder('de', orders), 'left', 'german= holds for its tag');
  const swapped = parseDigitOrders('de=right, fr = left').orders;
  assert.equal(digitOrder('de-CH', swapped), 'right');
  assert.equal(digitOrder('french', swapped), 'left');
  assert.deepEqual(parseDigitOrders('de=up;german(digits=middle);=left').problems.length, 3);
});
