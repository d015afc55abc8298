/**
 * What a transcription engine is to the transcriber: something that hears a WAV file in a language
 * and says what was said. The offline one runs Debian's pocketsphinx as child processes
 * (pocketsphinx.ts); the other speaks the OpenAI audio API that whisper.cpp's server,
 * faster-whisper servers and hosted services share (openai.ts).
 */
import { primaryLanguage, TRANSCRIPT_MAX_CHARS } from '@sipvm/contracts';

export interface HearRequest {
  /** The message as a WAV file (any rate the recording has; the platform's is 8 kHz). */
  wavFile: string;
  /** A folder of this job's own for working files; removed afterwards. */
  workDir: string;
  /** The language to hear, a primary tag the engine has a model for (`en`). */
  language: string;
  /** Aborted when the time for the message is up. */
  signal: AbortSignal;
}

export interface TranscriptionEngine {
  /** How transcripts name it: `pocketsphinx`, or the model asked for. */
  readonly name: string;
  /** Primary language tags it has models for. */
  readonly languages: readonly string[];
  /** What was said, as the engine heard it (maybe empty); throws EngineError when it could not hear it. */
  hear(request: HearRequest): Promise<string>;
}

/** The engine failed (not there, crashed, refused, answered nonsense): the message has no transcript. */
export class EngineError extends Error {
  override readonly name = 'EngineError';
}

/**
 * The tag to ask the engine for, for a message in `language` (`english`, `en-GB`, `en` → `en`), or
 * undefined when it has no model for it: a language is skipped, never guessed.
 */
export function engineLanguage(engine: Pick<TranscriptionEngine, 'languages'>, language: string | undefined): string | undefined {
  const primary = language === undefined ? undefined : primaryLanguage(language);
  return primary !== undefined && engine.languages.includes(primary) ? primary : undefined;
}

/** One line of words: control characters and runs of white space become one space; cut to the contract's length. */
export function cleanText(text: string): string {
  // eslint-disable-next-line no-control-regex
  const words = text.replace(/[\u0000-\u001f\u007f\s]+/gu, ' ').trim();
  return words.length <= TRANSCRIPT_MAX_CHARS ? words : `${words.slice(0, TRANSCRIPT_MAX_CHARS - 1).trimEnd()}…`;
}
