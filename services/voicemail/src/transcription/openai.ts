/**
 * An engine behind the OpenAI audio API, `POST /v1/audio/transcriptions`: OpenAI itself, and the
 * servers that speak it — whisper.cpp's server, faster-whisper servers (speaches), LocalAI, vLLM.
 * The request is multipart/form-data with the recording as `file`, the `model`, the `language`
 * (ISO 639-1: the message's, never left to the engine to guess) and `response_format=json`; the
 * answer is `{"text": "…"}`. The key, when there is one, goes as a Bearer token; it is read from a
 * file at start-up and never logged.
 */
import { openAsBlob } from 'node:fs';
import { z } from 'zod';
import { EngineError, type HearRequest, type TranscriptionEngine } from './engine.js';

export interface OpenAiOptions {
  /** The endpoint's full URL (…/v1/audio/transcriptions). */
  url: string;
  model: string;
  /** The API key, or undefined for a server that wants none. */
  key: string | undefined;
  languages: readonly string[];
}

const AnswerSchema = z.object({ text: z.string() });

export function openAiEngine(options: OpenAiOptions): TranscriptionEngine {
  return {
    name: options.model,
    languages: options.languages,

    async hear({ wavFile, language, signal }: HearRequest): Promise<string> {
      const form = new FormData();
      // A file-backed Blob: an hour of audio is streamed from disk, not held in memory.
      form.append('file', await openAsBlob(wavFile, { type: 'audio/wav' }), 'message.wav');
      form.append('model', options.model);
      form.append('language', language);
      form.append('response_format', 'json');
      let response: Response;
      try {
        response = await fetch(options.url, {
          method: 'POST',
          headers: options.key === undefined ? {} : { authorization: `Bearer ${options.key}` },
          body: form,
          signal,
        });
      } catch (error) {
        if (signal.aborted) throw error;
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        throw new EngineError(`${new URL(options.url).host}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
      }
      const body = await response.text();
      if (!response.ok) throw new EngineError(`${new URL(options.url).host} answered ${response.status}: ${body.replace(/\s+/g, ' ').slice(0, 200)}`);
      let answer: unknown;
      try {
        answer = JSON.parse(body);
      } catch {
        throw new EngineError(`${new URL(options.url).host} answered what is not JSON: ${body.slice(0, 120)}`);
      }
      const parsed = AnswerSchema.safeParse(answer);
      if (!parsed.success) throw new EngineError(`${new URL(options.url).host} answered JSON without a "text"`);
      return parsed.data.text;
    },
  };
}
