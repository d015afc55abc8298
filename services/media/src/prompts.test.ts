import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { digitOrder, parseDigitOrders } from '@sipvm/contracts';
import { findPrompt, loadCatalog, numberPieces, PromptFiles, type PromptDirs } from './prompts.js';
import { semsNumberPieces } from './sems-prompts.js';

/** The pieces of `value` in `language`, in its own digit order. */
const say = (value: number, language: string) => numberPieces(value, language, digitOrder(language));

it('English numbers', () => {
  assert.deepEqual(say(0, 'en'), ['num_0']);
  assert.deepEqual(say(13, 'en'), ['num_13']);
  assert.deepEqual(say(40, 'en'), ['num_40']);
  assert.deepEqual(say(42, 'en'), ['num_40', 'num_2']);
  assert.deepEqual(say(105, 'en'), ['num_1', 'num_hundred', 'num_5']);
  assert.deepEqual(say(9999, 'english'), ['num_9', 'num_thousand', 'num_9', 'num_hundred', 'num_90', 'num_9']);
});

it('German numbers: units before tens, "ein" in compounds, "eins" alone', () => {
  assert.deepEqual(say(1, 'de'), ['num_1']);
  assert.deepEqual(say(21, 'de'), ['num_1_combined', 'num_and', 'num_20']);
  assert.deepEqual(say(101, 'german'), ['num_1_combined', 'num_hundred', 'num_1']);
  assert.deepEqual(say(1234, 'de-AT'), ['num_1_combined', 'num_thousand', 'num_2', 'num_hundred', 'num_4', 'num_and', 'num_30']);
  assert.throws(() => say(10_000, 'de'));
});

it('French numbers: "et" for the ones of 21 to 71, sixty and eighty with ten to nineteen, no "un" before cent and mille', () => {
  assert.deepEqual(say(21, 'fr'), ['num_20', 'num_and', 'num_1']);
  assert.deepEqual(say(71, 'fr'), ['num_60', 'num_and', 'num_11']);
  assert.deepEqual(say(75, 'french'), ['num_60', 'num_15']);
  assert.deepEqual(say(81, 'fr'), ['num_80', 'num_1']);
  assert.deepEqual(say(99, 'fr'), ['num_80', 'num_19']);
  assert.deepEqual(say(1100, 'fr'), ['num_thousand', 'num_hundred']);
  assert.deepEqual(say(2342, 'fr'), ['num_2', 'num_thousand', 'num_3', 'num_hundred', 'num_40', 'num_2']);
});

it('Spanish numbers: one word to 29, "y" from 31, hundreds as words, "mil" without "un"', () => {
  assert.deepEqual(say(23, 'es'), ['num_23']);
  assert.deepEqual(say(42, 'es'), ['num_40', 'num_and', 'num_2']);
  assert.deepEqual(say(100, 'es'), ['num_100']);
  assert.deepEqual(say(101, 'spanish'), ['num_100_combined', 'num_1']);
  assert.deepEqual(say(1500, 'es'), ['num_thousand', 'num_500']);
});

it('Italian numbers: one word to 99, hundreds as words, mille and mila', () => {
  assert.deepEqual(say(38, 'it'), ['num_38']);
  assert.deepEqual(say(1000, 'it'), ['num_thousand']);
  assert.deepEqual(say(2201, 'italian'), ['num_2', 'num_thousands', 'num_200', 'num_1']);
});

it("a digit order configured against the language's own speaks by the digit order alone", () => {
  assert.deepEqual(numberPieces(42, 'fr', 'left'), ['num_2', 'num_and', 'num_40']);
});

it('SEMS counts: one file up to 20 and for whole tens, else tens and x<unit> in the digit order', () => {
  assert.deepEqual(semsNumberPieces(7, 'right'), ['7']);
  assert.deepEqual(semsNumberPieces(20, 'left'), ['20']);
  assert.deepEqual(semsNumberPieces(42, 'right'), ['40', 'x2']);
  assert.deepEqual(semsNumberPieces(42, 'left'), ['x2', '40']);
  assert.equal(semsNumberPieces(100, 'right'), undefined);
});

it('every piece any number needs, and every language, is in the catalog', async () => {
  const catalog = await loadCatalog();
  assert.deepEqual(Object.keys(catalog.languages).sort(), ['de', 'en', 'es', 'fr', 'it']);
  for (const language of Object.keys(catalog.languages)) {
    const needed = new Set<string>();
    for (let n = 0; n <= 9999; n++) for (const piece of say(n, language)) needed.add(piece);
    for (const piece of needed) assert.ok(catalog.prompts[piece], `${piece} is missing`);
  }
  for (const name of [
    'default_greeting',
    'enter_pin',
    'you_have',
    'one_new_message',
    'new_messages',
    'one_saved_message',
    'saved_messages',
    'no_messages',
    'no_more_messages',
    'ann_confirm',
    'goodbye',
  ]) {
    assert.ok(catalog.prompts[name], `${name} is missing`);
  }
});

describe('finding a prompt', () => {
  /** A folder with these (empty) files, and the lookup settings over it. */
  async function folders(files: string[], sems = false): Promise<{ root: string; dirs: PromptDirs }> {
    const root = await mkdtemp(join(tmpdir(), 'sipvm-prompts-'));
    for (const file of files) {
      await mkdir(dirname(join(root, file)), { recursive: true });
      await writeFile(join(root, file), '');
    }
    const dirs: PromptDirs = {
      built: join(root, 'built'),
      override: join(root, 'override'),
      defaultLanguage: 'en',
      ...(sems
        ? {
            sems: {
              announcePath: join(root, 'voicemail'),
              defaultAnnounce: 'default_en.wav',
              voiceboxPath: join(root, 'voicebox'),
              annrecorderPath: join(root, 'annrecorder'),
            },
          }
        : {}),
    };
    return { root, dirs };
  }
  const found = async (setup: { root: string; dirs: PromptDirs }, name: string, language: string, domain?: string) => {
    const prompt = await findPrompt(setup.dirs, name, language, domain);
    return `${relative(setup.root, prompt.path)}${prompt.fallback ? ' (fallback)' : ''}`;
  };

  it('finds a SEMS language name under the tag the platform files its prompts by', async () => {
    const setup = await folders(['built/en/goodbye.wav', 'built/de/goodbye.wav', 'built/de/you_have.wav', 'override/german/goodbye.wav']);
    assert.equal(await found(setup, 'goodbye', 'english'), 'built/en/goodbye.wav');
    assert.equal(await found(setup, 'you_have', 'german'), 'built/de/you_have.wav');
    assert.equal(await found(setup, 'goodbye', 'de-AT'), 'override/german/goodbye.wav', "an operator's german/ serves de-AT callers");
    assert.equal(await found(setup, 'goodbye', 'german'), 'override/german/goodbye.wav');
    assert.equal(await found(setup, 'goodbye', 'klingon'), 'built/en/goodbye.wav (fallback)');
  });

  it('plays SEMS voicemail default greetings as AnswerMachine.cpp looks them up: did/lng, did, lng, the folder', async () => {
    const all = [
      'voicemail/example.org/german/default_en.wav',
      'voicemail/example.org/default_en.wav',
      'voicemail/german/default_en.wav',
      'voicemail/default_en.wav',
      'built/de/default_greeting.wav',
      'built/en/default_greeting.wav',
    ];
    const setup = await folders(all, true);
    assert.equal(await found(setup, 'default_greeting', 'german', 'example.org'), 'voicemail/example.org/german/default_en.wav');
    assert.equal(await found(setup, 'default_greeting', 'de', 'example.org'), 'voicemail/example.org/german/default_en.wav', 'de finds german/');
    assert.equal(await found(setup, 'default_greeting_ann', 'english', 'example.org'), 'voicemail/example.org/default_en.wav');
    assert.equal(await found(setup, 'default_greeting', 'german', 'other.org'), 'voicemail/german/default_en.wav');
    assert.equal(await found(setup, 'default_greeting', 'klingon', 'other.org'), 'voicemail/default_en.wav', "SEMS's own last resort, not a fallback");
    const bare = await folders(['voicemail/example.org/default_en.wav', 'built/de/default_greeting.wav', 'built/en/default_greeting.wav'], true);
    assert.equal(
      await found(bare, 'default_greeting', 'german', 'other.org'),
      'built/de/default_greeting.wav',
      "nothing of SEMS's for the domain: the platform's",
    );
  });

  it('plays SEMS voicebox and annrecorder prompt sets under their SEMS names', async () => {
    const setup = await folders(
      [
        'voicebox/english/no_msg.wav',
        'voicebox/example.org/pin_prompt.wav',
        'voicebox/bye.wav',
        'annrecorder/your_prompt.wav',
        'built/en/help.wav',
        'built/de/no_messages.wav',
      ],
      true,
    );
    assert.equal(await found(setup, 'no_messages', 'en'), 'voicebox/english/no_msg.wav');
    assert.equal(await found(setup, 'enter_pin', 'en', 'example.org'), 'voicebox/example.org/pin_prompt.wav');
    assert.equal(await found(setup, 'goodbye', 'german'), 'voicebox/bye.wav');
    assert.equal(await found(setup, 'ann_current_greeting', 'en'), 'annrecorder/your_prompt.wav');
    assert.equal(await found(setup, 'help', 'en'), 'built/en/help.wav', 'SEMS had no help prompt');
    assert.equal(await found(setup, 'no_messages', 'german'), 'built/de/no_messages.wav', "the caller's language before another language's SEMS set");
  });

  it("speaks counts with a SEMS set's pieces in the configured digit order, else with the platform's", async () => {
    const setup = await folders(
      [
        'voicebox/german/x2.wav',
        'voicebox/german/40.wav',
        'voicebox/german/7.wav',
        ...['num_2', 'num_40', 'num_100', 'num_hundred', 'num_1'].map((n) => `built/en/${n}.wav`),
      ],
      true,
    );
    const prompts = new PromptFiles({ ...setup.dirs, digitOrders: parseDigitOrders('german(digits=left)').orders });
    const names = async (value: number, language: string) => (await prompts.findNumber(value, language)).map((f) => relative(setup.root, f.path));
    assert.deepEqual(await names(42, 'german'), ['voicebox/german/x2.wav', 'voicebox/german/40.wav']);
    assert.deepEqual(await names(7, 'de'), ['voicebox/german/7.wav']);
    assert.deepEqual(await names(42, 'english'), ['built/en/num_40.wav', 'built/en/num_2.wav']);
    assert.deepEqual(await names(100, 'english'), ['built/en/num_1.wav', 'built/en/num_hundred.wav']);
  });

  it('falls back to the default language with one warning per language, never failing the call', async () => {
    const setup = await folders(['built/en/goodbye.wav', 'built/en/you_have.wav']);
    const warnings: string[] = [];
    const prompts = new PromptFiles(setup.dirs, 0, (language, defaultLanguage) => warnings.push(`${language}->${defaultLanguage}`));
    for (const name of ['goodbye', 'you_have', 'goodbye']) {
      assert.equal(relative(setup.root, (await prompts.find(name, 'klingon')).path), `built/en/${name}.wav`);
      await prompts.find(name, 'vulcan');
      await prompts.find(name, 'english');
    }
    assert.deepEqual(warnings, ['klingon->en', 'vulcan->en']);
  });
});
