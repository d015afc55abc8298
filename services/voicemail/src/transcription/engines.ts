/** The configured engine (TRANSCRIBE_ENGINE), its key read from its file at start-up. */
import { readFile } from 'node:fs/promises';
import { ConfigError } from '@sipvm/service';
import type { TranscriptionConfig } from './config.js';
import type { TranscriptionEngine } from './engine.js';
import { openAiEngine } from './openai.js';
import { pocketsphinxEngine } from './pocketsphinx.js';

export type ConfiguredEngine = TranscriptionEngine & {
  /** What keeps it from working here (a missing program or model): logged at start, not fatal. */
  problems(): Promise<string[]>;
};

export async function createEngine(config: TranscriptionConfig): Promise<ConfiguredEngine> {
  if (config.TRANSCRIBE_ENGINE === 'pocketsphinx') {
    const problem = config.TRANSCRIBE_LANGUAGES.some((tag) => tag !== 'en')
      ? [`TRANSCRIBE_LANGUAGES (${config.TRANSCRIBE_LANGUAGES.join(',')}): pocketsphinx has Debian's English model only; say en`]
      : [];
    if (problem.length > 0) throw new ConfigError(problem);
    return pocketsphinxEngine({
      bin: config.TRANSCRIBE_POCKETSPHINX_BIN,
      sox: config.TRANSCRIBE_SOX_BIN,
      modelDir: config.TRANSCRIBE_POCKETSPHINX_MODEL,
      nice: config.TRANSCRIBE_NICE,
    });
  }
  const engine = openAiEngine({
    // checkTranscriptionConfig made sure of it
    url: config.TRANSCRIBE_URL ?? '',
    model: config.TRANSCRIBE_MODEL,
    key: config.TRANSCRIBE_KEY_FILE === undefined ? undefined : await readKey(config.TRANSCRIBE_KEY_FILE),
    languages: config.TRANSCRIBE_LANGUAGES,
  });
  return { ...engine, problems: async () => [] };
}

/** The key's first line; never shown, not even when it is wrong. */
async function readKey(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError([`TRANSCRIBE_KEY_FILE ("${file}"): cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`]);
  }
  const key = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .find((line) => line !== '' && !line.startsWith('#'));
  if (key === undefined) throw new ConfigError([`TRANSCRIBE_KEY_FILE ("${file}"): is empty`]);
  if (/[^\x21-\x7e]/.test(key))
    throw new ConfigError([`TRANSCRIBE_KEY_FILE ("${file}"): the key holds characters an HTTP header cannot carry (value not shown)`]);
  return key;
}
