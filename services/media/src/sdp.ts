/**
 * Just enough SDP for a one-legged voicemail call: find the caller's audio codecs, pick the one we
 * record, and write the fresh answer that points rtpengine's other leg at our sink (docs/design.md: never
 * reuse rtpengine's own offer as the answer).
 */
import { ServiceError } from '@sipvm/contracts';

export interface AudioCodec {
  payloadType: number;
  /** Encoding name as in SDP, e.g. PCMU, G722, opus. */
  name: string;
  /** RTP clock rate. */
  clockRate: number;
  channels: number;
  /** The a=rtpmap / a=fmtp lines for this payload type, as offered. */
  lines: string[];
}

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface OfferedAudio {
  codecs: AudioCodec[];
  /** The caller's direction (media level, else session level): hold is sendonly or inactive. */
  direction: Direction;
  /** telephone-event/8000 (RFC 4733), when offered. */
  telephoneEvent: AudioCodec | undefined;
}

const STATIC: Record<number, [string, number]> = { 0: ['PCMU', 8000], 8: ['PCMA', 8000], 9: ['G722', 8000], 18: ['G729', 8000] };

/** Codecs the media service can turn into a WAV, in the order it prefers them when offered. */
export const RECORDABLE = ['PCMU', 'PCMA', 'G722', 'opus'] as const;
export type RecordableCodec = (typeof RECORDABLE)[number];

export function parseAudioOffer(sdp: string): OfferedAudio {
  const lines = sdp
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const mIndex = lines.findIndex((l) => l.startsWith('m=audio '));
  if (mIndex < 0) throw new ServiceError('bad-request', 'SDP offer has no audio stream (m=audio)');
  const end = lines.findIndex((l, i) => i > mIndex && l.startsWith('m='));
  const section = lines.slice(mIndex, end < 0 ? undefined : end);
  const fields = section[0]!.split(/\s+/);
  if (fields[1] === '0') throw new ServiceError('bad-request', 'SDP offer has its audio stream disabled (port 0)');
  const pts = fields
    .slice(3)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n >= 0 && n < 128);
  const codecs = pts.map((pt): AudioCodec => {
    const own = section.filter((l) => l.startsWith(`a=rtpmap:${pt} `) || l.startsWith(`a=fmtp:${pt} `));
    const rtpmap = own.find((l) => l.startsWith('a=rtpmap:'));
    if (rtpmap) {
      const [name = '', rate = '8000', channels = '1'] = rtpmap.slice(rtpmap.indexOf(' ') + 1).split('/');
      return { payloadType: pt, name, clockRate: Number(rate), channels: Number(channels), lines: own };
    }
    const known = STATIC[pt];
    return { payloadType: pt, name: known?.[0] ?? `PT${pt}`, clockRate: known?.[1] ?? 8000, channels: 1, lines: own };
  });
  const telephoneEvent = codecs.find((c) => c.name.toLowerCase() === 'telephone-event' && c.clockRate === 8000);
  const directionOf = (ls: string[]) => ls.map((l) => /^a=(sendrecv|sendonly|recvonly|inactive)$/.exec(l)?.[1]).find(Boolean) as Direction | undefined;
  const direction = directionOf(section) ?? directionOf(lines.slice(0, mIndex)) ?? 'sendrecv';
  return { codecs: codecs.filter((c) => c !== telephoneEvent), telephoneEvent, direction };
}

/** The caller's first offered codec that we can record (the caller's preference wins). */
export function chooseCodec(offer: OfferedAudio): AudioCodec & { name: RecordableCodec } {
  for (const codec of offer.codecs) {
    const known = RECORDABLE.find((r) => r.toLowerCase() === codec.name.toLowerCase());
    if (known) return { ...codec, name: known };
  }
  const offered = offer.codecs.map((c) => c.name).join(', ') || 'none';
  throw new ServiceError('bad-request', `no codec in the offer can be recorded (offered: ${offered}; supported: ${RECORDABLE.join(', ')})`);
}

const ANSWER_DIRECTION: Record<Direction, Direction> = { sendrecv: 'sendrecv', sendonly: 'recvonly', recvonly: 'sendonly', inactive: 'inactive' };

/** The answer of the sink leg: the chosen codec (and telephone-event) at our discard socket. */
export function sinkAnswer(
  codec: AudioCodec,
  telephoneEvent: AudioCodec | undefined,
  sink: { host: string; port: number },
  version: number,
  offerDirection: Direction = 'sendrecv',
): string {
  const pts = [codec.payloadType, ...(telephoneEvent ? [telephoneEvent.payloadType] : [])];
  const rtpmap = (c: AudioCodec) =>
    c.lines.length > 0 ? c.lines : [`a=rtpmap:${c.payloadType} ${c.name}/${c.clockRate}${c.channels > 1 ? `/${c.channels}` : ''}`];
  return [
    'v=0',
    `o=sipvm-media ${version} ${version} IN IP4 ${sink.host}`,
    's=sipvm',
    `c=IN IP4 ${sink.host}`,
    't=0 0',
    `m=audio ${sink.port} RTP/AVP ${pts.join(' ')}`,
    ...rtpmap(codec),
    ...(telephoneEvent ? rtpmap(telephoneEvent) : []),
    'a=ptime:20',
    `a=${ANSWER_DIRECTION[offerDirection]}`,
    '',
  ].join('\r\n');
}
