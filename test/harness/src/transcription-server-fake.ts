/**
 * A FAKE speech-to-text server that speaks the OpenAI audio API as OpenAI documents it and
 * whisper.cpp's server and faster-whisper servers implement it: `POST /v1/audio/transcriptions`,
 * multipart/form-data with `file`, `model`, optional `language` and `response_format`, a Bearer
 * key; the answer `{"text": "…"}`, errors as `{"error": {"message", "type"}}` with 400 or 401. No
 * real one can run here (no such server is packaged for Debian, and models are not downloaded),
 * so this one checks the request as strictly as they do, keeps what it got, and answers what the
 * test tells it to: by default, how long the audio it received is.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface TranscriptionRequestSeen {
  model: string;
  language: string | undefined;
  responseFormat: string | undefined;
  /** The uploaded file as sent. */
  file: { name: string; type: string; bytes: Buffer };
  at: number;
}

export type TranscriptionAnswer = { status: number; body: unknown } | { hang: true };

export interface FakeTranscriptionServer {
  /** The endpoint's full URL, as TRANSCRIBE_URL takes it. */
  readonly url: string;
  readonly requests: TranscriptionRequestSeen[];
  /** How it answers a well-formed request (after `delayMs`); a test may replace it. */
  answer: (request: TranscriptionRequestSeen) => TranscriptionAnswer;
  /** Waits this long before answering. */
  delayMs: number;
  close(): Promise<void>;
}

export const TRANSCRIPTION_PATH = '/v1/audio/transcriptions';

/** Seconds of audio in a 16-bit mono WAV (its data chunk), for the default answer. */
function wavSeconds(bytes: Buffer): number {
  const data = bytes.indexOf('data', 12);
  const rate = bytes.length >= 28 ? bytes.readUInt32LE(24) : 0;
  return data < 0 || rate === 0 ? 0 : bytes.readUInt32LE(data + 4) / 2 / rate;
}

export async function startFakeTranscriptionServer(options: { key?: string } = {}): Promise<FakeTranscriptionServer> {
  const sockets = new Set<Socket>();
  const fake: FakeTranscriptionServer = {
    url: '',
    requests: [],
    delayMs: 0,
    answer: (request) => ({ status: 200, body: { text: `I heard ${wavSeconds(request.file.bytes).toFixed(1)} seconds of audio.` } }),
    close: async () => undefined,
  };
  const error = (status: number, message: string, type = 'invalid_request_error') => ({ status, body: { error: { message, type, param: null, code: null } } });

  async function handle(req: IncomingMessage): Promise<TranscriptionAnswer> {
    if (req.method !== 'POST' || req.url !== TRANSCRIPTION_PATH) return error(404, `Invalid URL (${req.method} ${req.url})`);
    if (options.key !== undefined && req.headers.authorization !== `Bearer ${options.key}`) return error(401, 'Incorrect API key provided.');
    const type = req.headers['content-type'] ?? '';
    if (!type.startsWith('multipart/form-data')) return error(400, 'Content-Type must be multipart/form-data');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const form = await new Request('http://fake/', { method: 'POST', headers: { 'content-type': type }, body: Buffer.concat(chunks) }).formData();
    const file = form.get('file');
    const model = form.get('model');
    if (!(file instanceof Blob)) return error(400, "Missing required parameter: 'file'.");
    if (typeof model !== 'string' || model === '') return error(400, "Missing required parameter: 'model'.");
    const language = form.get('language');
    const format = form.get('response_format');
    if (typeof format === 'string' && !['json', 'text', 'verbose_json', 'srt', 'vtt'].includes(format)) return error(400, `Invalid response_format: ${format}`);
    const seen: TranscriptionRequestSeen = {
      model,
      language: typeof language === 'string' ? language : undefined,
      responseFormat: typeof format === 'string' ? format : undefined,
      file: { name: (file as File).name, type: file.type, bytes: Buffer.from(await file.arrayBuffer()) },
      at: Date.now(),
    };
    fake.requests.push(seen);
    if (seen.file.bytes.subarray(0, 4).toString() !== 'RIFF')
      return error(400, 'Invalid file format. Supported formats: flac, m4a, mp3, mp4, mpeg, mpga, oga, ogg, wav, webm');
    if (fake.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, fake.delayMs));
    return fake.answer(seen);
  }

  const server: Server = createServer((req, res) => {
    handle(req).then(
      (answer) => {
        if ('hang' in answer) return; // never answers (a server that is stuck); the client gives up
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
      },
      (failure: unknown) =>
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: String(failure), type: 'server_error' } })),
    );
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  Object.assign(fake, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${TRANSCRIPTION_PATH}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  });
  return fake;
}
