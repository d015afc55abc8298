/** Environment variables of transcription (documented in the README): the policy, and the engine. */
import { tmpdir } from 'node:os';
import { z } from 'zod';
import { env, TRANSCRIPTION_MODES, transcriptionWaitMs, type TranscriptionMode } from '@sipvm/service';

/**
 * Per domain (TRANSCRIPTION_MODES, shared with the domains file): `off`; `on` (the message gets its
 * transcript, the mail does not wait for it); `wait` (the mail waits up to the wait time for it,
 * then goes without, marked "no transcript"). A mail is never held more than ten minutes.
 */
export { TRANSCRIPTION_MODES, type TranscriptionMode };

export const TRANSCRIPTION_ENGINES = ['pocketsphinx', 'openai'] as const;

export const transcriptionConfig = {
  /** The platform's default for every domain without its own (`transcription` in VM_DOMAINS_FILE). Off: capacity unchanged. */
  VM_TRANSCRIPTION: env.oneOf(TRANSCRIPTION_MODES).default('off'),
  /** In mode `wait`, how long the mail waits for the transcript. */
  VM_TRANSCRIPTION_WAIT_MS: transcriptionWaitMs().default(60_000),
  /** `pocketsphinx` (offline, Debian's English model) or `openai` (an OpenAI-compatible /v1/audio/transcriptions endpoint). */
  TRANSCRIBE_ENGINE: env.oneOf(TRANSCRIPTION_ENGINES).default('pocketsphinx'),
  /** Languages the engine has a model for (primary tags); a message in another language gets no transcript. */
  TRANSCRIBE_LANGUAGES: env
    .list()
    .refine((tags) => tags.length > 0 && tags.every((tag) => /^[a-z]{2,3}$/.test(tag)), 'must be language tags such as en,de')
    .default(['en']),
  /** Messages heard at once by one instance (each a child process or an HTTP request). */
  TRANSCRIBE_CONCURRENCY: env.integer(1, 16).default(1),
  /** Niceness of the engine's processes (0–19): the call path always goes first. */
  TRANSCRIBE_NICE: env.integer(0, 19).default(19),
  /** Longest time the engine may take for one message; then it has no transcript. */
  TRANSCRIBE_TIMEOUT_MS: env.integer(1_000, 3_600_000).default(300_000),
  /** A message waiting longer than this for the transcriber is marked "no transcript" unheard (a backlog drains). */
  TRANSCRIBE_MAX_AGE: env.duration().default(3_600_000),
  /** Where the engine's working files go (the message as WAV, resampled audio). */
  TRANSCRIBE_TMP_DIR: env.string().default(tmpdir()),
  /** pocketsphinx: the batch decoder, sox (resampling to 16 kHz) and the model folder (Debian's pocketsphinx-en-us). */
  TRANSCRIBE_POCKETSPHINX_BIN: env.string().default('pocketsphinx_batch'),
  TRANSCRIBE_SOX_BIN: env.string().default('sox'),
  TRANSCRIBE_POCKETSPHINX_MODEL: env.string().default('/usr/share/pocketsphinx/model/en-us'),
  /** openai: the endpoint's full URL, e.g. http://whisper:8000/v1/audio/transcriptions. */
  TRANSCRIBE_URL: env.url(['http', 'https']).optional(),
  /** openai: the model to ask for (`whisper-1` at OpenAI; what your server serves elsewhere). */
  TRANSCRIBE_MODEL: env.string().default('whisper-1'),
  /** openai: a file holding the API key (sent as a Bearer token); none for a server that asks for none. */
  TRANSCRIBE_KEY_FILE: env.string().optional(),
};

export type TranscriptionConfig = z.output<z.ZodObject<typeof transcriptionConfig>>;

export function checkTranscriptionConfig(config: TranscriptionConfig): string[] {
  return config.TRANSCRIBE_ENGINE === 'openai' && config.TRANSCRIBE_URL === undefined
    ? ['TRANSCRIBE_URL (unset): the openai engine needs the URL of its /v1/audio/transcriptions endpoint']
    : [];
}

/** A domain's transcription: its own setting, else the platform's. */
export function transcriptionFor(
  domain: { transcription?: TranscriptionMode | undefined; transcriptionWaitMs?: number | undefined },
  config: Pick<TranscriptionConfig, 'VM_TRANSCRIPTION' | 'VM_TRANSCRIPTION_WAIT_MS'>,
): { mode: TranscriptionMode; waitMs: number } {
  return { mode: domain.transcription ?? config.VM_TRANSCRIPTION, waitMs: domain.transcriptionWaitMs ?? config.VM_TRANSCRIPTION_WAIT_MS };
}
