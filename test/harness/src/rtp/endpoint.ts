/**
 * The project's RTP test endpoint: a caller (or callee) on loopback that offers or answers SDP,
 * sends audio (a WAV, a tone, silence) paced in real time as PCMU, PCMA, G.722 or Opus, sends
 * RFC 4733 digits, and receives and decodes whatever the platform plays to it.
 */
import { createSocket, type Socket } from 'node:dgram';
import { alawToLinear, linearToAlaw, linearToUlaw, ulawToLinear } from './g711.js';
import { ffmpeg, oggPackets } from './ffmpeg.js';

export type EndpointCodec = 'PCMU' | 'PCMA' | 'G722' | 'opus';

interface CodecInfo {
  payloadType: number;
  rtpmap: string;
  clockRate: number;
  /** RTP timestamp units per 20 ms packet. */
  perPacket: number;
}

const CODECS: Record<EndpointCodec, CodecInfo> = {
  PCMU: { payloadType: 0, rtpmap: 'PCMU/8000', clockRate: 8000, perPacket: 160 },
  PCMA: { payloadType: 8, rtpmap: 'PCMA/8000', clockRate: 8000, perPacket: 160 },
  G722: { payloadType: 9, rtpmap: 'G722/8000', clockRate: 8000, perPacket: 160 },
  opus: { payloadType: 111, rtpmap: 'opus/48000/2', clockRate: 48000, perPacket: 960 },
};
const TELEPHONE_EVENT_PT = 101;
const RATE = 8000;

export interface ReceivedPacket {
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
  at: number;
}

const DTMF_EVENTS = '0123456789*#ABCD';
const ROWS = [697, 770, 852, 941];
const COLUMNS = [1209, 1336, 1477, 1633];
const KEYPAD = ['123A', '456B', '789C', '*0#D'];
const DTMF_FREQUENCIES: Record<string, [number, number]> = Object.fromEntries(
  KEYPAD.flatMap((row, r) => [...row].map((key, c) => [key, [ROWS[r]!, COLUMNS[c]!] as [number, number]])),
);

export class RtpEndpoint {
  readonly received: ReceivedPacket[] = [];
  #remote: { host: string; port: number } | undefined;
  #sequence = Math.floor(Math.random() * 0x8000);
  #timestamp = Math.floor(Math.random() * 0x7fffffff);
  readonly #ssrc = Math.floor(Math.random() * 0xffffffff) >>> 0;
  /** When the next packet is due (ms, performance clock): pacing across consecutive sends. */
  #due = 0;
  /** Where the last RTP packet came from, for symmetric RTP (latching). */
  #lastSource: { host: string; port: number } | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly codec: EndpointCodec,
  ) {
    socket.on('message', (data, from) => {
      if (data.length < 12 || data[0]! >> 6 !== 2) return;
      this.#lastSource = { host: from.address, port: from.port };
      const header = 12 + (data[0]! & 0x0f) * 4;
      this.received.push({
        payloadType: data[1]! & 0x7f,
        sequence: data.readUInt16BE(2),
        timestamp: data.readUInt32BE(4),
        ssrc: data.readUInt32BE(8),
        payload: Buffer.from(data.subarray(header)),
        at: Date.now(),
      });
    });
  }

  static async create(codec: EndpointCodec, host = '127.0.0.1'): Promise<RtpEndpoint> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, host, resolve));
    return new RtpEndpoint(socket, codec);
  }

  get port(): number {
    return this.socket.address().port;
  }

  get info(): CodecInfo {
    return CODECS[this.codec];
  }

  /** An SDP offer (or answer) with our codec and telephone-event. */
  sdp(): string {
    const { payloadType, rtpmap } = this.info;
    return [
      'v=0',
      `o=rtp-test ${this.#ssrc} 1 IN IP4 127.0.0.1`,
      's=rtp-test',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      `m=audio ${this.port} RTP/AVP ${payloadType} ${TELEPHONE_EVENT_PT}`,
      `a=rtpmap:${payloadType} ${rtpmap}`,
      ...(this.codec === 'opus' ? [`a=fmtp:${payloadType} useinbandfec=1`] : []),
      `a=rtpmap:${TELEPHONE_EVENT_PT} telephone-event/8000`,
      `a=fmtp:${TELEPHONE_EVENT_PT} 0-16`,
      'a=ptime:20',
      'a=sendrecv',
      '',
    ].join('\r\n');
  }

  /** Takes the remote address from the other side's SDP (offer or answer). */
  setRemote(sdp: string): void {
    const host = /^c=IN IP4 (\S+)/m.exec(sdp)?.[1];
    const port = Number(/^m=audio (\d+)/m.exec(sdp)?.[1]);
    if (!host || !port) throw new Error(`no audio address in SDP:\n${sdp}`);
    this.#remote = { host, port };
  }

  /**
   * Takes the remote address from the first RTP packet that arrives (symmetric RTP), for calls
   * whose SDP answer went to another program (sipp doing the signaling).
   */
  async latchRemote(timeoutMs = 10_000): Promise<{ host: string; port: number }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#lastSource) {
      if (Date.now() > deadline) throw new Error(`no RTP arrived within ${timeoutMs} ms to latch onto`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    this.#remote = this.#lastSource;
    return this.#remote;
  }

  /** Sends 8 kHz 16-bit PCM in real time (20 ms packets) in our codec. */
  async sendPcm(pcm: Int16Array): Promise<void> {
    for (const payload of await this.#encode(pcm)) {
      await this.#pace();
      this.#send(this.info.payloadType, payload, false);
      this.#timestamp = (this.#timestamp + this.info.perPacket) >>> 0;
    }
  }

  sendTone(frequency: number, ms: number, amplitude = 0.5): Promise<void> {
    return this.sendPcm(tonePcm(frequency, ms, amplitude));
  }

  sendSilence(ms: number): Promise<void> {
    return this.sendPcm(new Int16Array(Math.round((RATE * ms) / 1000)));
  }

  /** RFC 4733 events, `durationMs` each, with `gapMs` of silence after each; the end packet three times. */
  async sendDigits(digits: string, options: { durationMs?: number; gapMs?: number } = {}): Promise<void> {
    const duration = options.durationMs ?? 100;
    const clock = this.info.clockRate / 1000;
    for (const digit of digits) {
      const event = DTMF_EVENTS.indexOf(digit.toUpperCase());
      if (event < 0) throw new Error(`not a DTMF digit: ${digit}`);
      const packets = Math.max(1, Math.round(duration / 20));
      for (let i = 1; i <= packets + 2; i++) {
        const end = i >= packets;
        const payload = Buffer.alloc(4);
        payload[0] = event;
        payload[1] = (end ? 0x80 : 0) | 10;
        payload.writeUInt16BE(Math.min(i, packets) * 20 * clock, 2);
        await this.#pace();
        this.#send(TELEPHONE_EVENT_PT, payload, i === 1);
      }
      this.#timestamp = (this.#timestamp + packets * 20 * clock) >>> 0;
      await this.sendSilence(options.gapMs ?? 100);
    }
  }

  /** Digits as in-band DTMF tones (the two frequencies of each key) in the audio codec. */
  async sendInbandDigits(digits: string, options: { durationMs?: number; gapMs?: number } = {}): Promise<void> {
    for (const digit of digits) {
      const pair = DTMF_FREQUENCIES[digit.toUpperCase()];
      if (!pair) throw new Error(`not a DTMF digit: ${digit}`);
      const a = tonePcm(pair[0], options.durationMs ?? 120, 0.25);
      const b = tonePcm(pair[1], options.durationMs ?? 120, 0.25);
      await this.sendPcm(a.map((x, i) => x + b[i]!));
      await this.sendSilence(options.gapMs ?? 100);
    }
  }

  /** Sends one raw RTP packet now (for tests of odd input). */
  sendRaw(payloadType: number, payload: Buffer): void {
    this.#send(payloadType, payload, false);
  }

  /**
   * What the platform played to us, decoded to 8 kHz 16-bit PCM, placed by RTP timestamp. With
   * `sinceMs` (a Date.now() value) only what arrived from then on: one stream that started later
   * (another party's, relayed) is placed by its own timestamps.
   */
  async receivedPcm(options: { sinceMs?: number } = {}): Promise<Int16Array> {
    const since = options.sinceMs ?? 0;
    const audio = this.received.filter((p) => p.payloadType === this.info.payloadType && p.at >= since);
    if (audio.length === 0) return new Int16Array(0);
    if (this.codec === 'PCMU' || this.codec === 'PCMA') {
      const decode = this.codec === 'PCMU' ? ulawToLinear : alawToLinear;
      const first = audio[0]!;
      const placed = audio.map((p) => ({ at: (p.timestamp - first.timestamp) >>> 0, p }));
      const end = Math.max(...placed.map(({ at, p }) => (at < 8000 * 600 ? at + p.payload.length : 0)));
      const out = new Int16Array(end);
      for (const { at, p } of placed) if (at < 8000 * 600) p.payload.forEach((byte, i) => (out[at + i] = decode(byte)));
      return out;
    }
    const sorted = [...audio].sort((a, b) => ((a.sequence - audio[0]!.sequence + 0x18000) % 0x10000) - ((b.sequence - audio[0]!.sequence + 0x18000) % 0x10000));
    if (this.codec === 'G722') {
      return toInt16(
        await ffmpeg(['-f', 'g722', '-i', 'pipe:0', '-ar', '8000', '-ac', '1', '-f', 's16le', 'pipe:1'], Buffer.concat(sorted.map((p) => p.payload))),
      );
    }
    throw new Error('decoding received Opus is not supported by the test endpoint');
  }

  close(): void {
    this.socket.close();
  }

  async #encode(pcm: Int16Array): Promise<Buffer[]> {
    const frames = (bytes: Buffer, size: number) => {
      const out: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
      return out;
    };
    switch (this.codec) {
      case 'PCMU':
        return frames(Buffer.from(Array.from(pcm, linearToUlaw)), 160);
      case 'PCMA':
        return frames(Buffer.from(Array.from(pcm, linearToAlaw)), 160);
      case 'G722':
        return frames(
          await ffmpeg(['-f', 's16le', '-ar', '8000', '-ac', '1', '-i', 'pipe:0', '-ar', '16000', '-c:a', 'g722', '-f', 'g722', 'pipe:1'], pcmBytes(pcm)),
          160,
        );
      case 'opus': {
        const ogg = await ffmpeg(
          [
            '-f',
            's16le',
            '-ar',
            '8000',
            '-ac',
            '1',
            '-i',
            'pipe:0',
            '-ar',
            '48000',
            '-c:a',
            'libopus',
            '-b:a',
            '32k',
            '-frame_duration',
            '20',
            '-f',
            'ogg',
            'pipe:1',
          ],
          pcmBytes(pcm),
        );
        return oggPackets(ogg).slice(2); // OpusHead and OpusTags are not audio
      }
    }
  }

  async #pace(): Promise<void> {
    const now = performance.now();
    if (this.#due < now - 100) this.#due = now; // idle for a while: start afresh
    const wait = this.#due - now;
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    this.#due += 20;
  }

  #send(payloadType: number, payload: Buffer, marker: boolean): void {
    if (!this.#remote) throw new Error("no remote address: call setRemote() with the other side's SDP first");
    const header = Buffer.alloc(12);
    header[0] = 0x80;
    header[1] = (marker ? 0x80 : 0) | payloadType;
    header.writeUInt16BE(this.#sequence, 2);
    header.writeUInt32BE(this.#timestamp, 4);
    header.writeUInt32BE(this.#ssrc, 8);
    this.#sequence = (this.#sequence + 1) & 0xffff;
    this.socket.send(Buffer.concat([header, payload]), this.#remote.port, this.#remote.host);
  }
}

export function tonePcm(frequency: number, ms: number, amplitude = 0.5, rate = RATE): Int16Array {
  const n = Math.round((rate * ms) / 1000);
  return Int16Array.from({ length: n }, (_, i) => Math.round(32767 * amplitude * Math.sin((2 * Math.PI * frequency * i) / rate)));
}

function pcmBytes(pcm: Int16Array): Buffer {
  return Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
}

function toInt16(bytes: Buffer): Int16Array {
  const copy = Buffer.from(bytes.subarray(0, bytes.length - (bytes.length % 2)));
  return new Int16Array(copy.buffer, copy.byteOffset, copy.length / 2);
}
