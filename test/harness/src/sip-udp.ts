/**
 * A bare SIP user agent over UDP for hostile tests: it sends exactly the bytes it is given (well
 * formed or not) from the local address it is bound to — any 127.x address, so one test can be a
 * trusted proxy (127.0.0.1) and a stranger (127.0.0.2) — and collects what comes back. sipp would
 * refuse to send most of what these tests send.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';

export interface SipReply {
  readonly status: number;
  readonly reason: string;
  /** The CSeq method the reply is for (INVITE, SUBSCRIBE, …), upper case. */
  readonly method: string;
  readonly callId: string;
  readonly text: string;
  header(name: string): string | undefined;
}

/** Parses a SIP response; undefined for anything else (requests, junk). */
export function parseReply(text: string): SipReply | undefined {
  const status = /^SIP\/2\.0 (\d{3}) ?([^\r\n]*)/.exec(text);
  if (!status) return undefined;
  const head = text.split(/\r?\n\r?\n/)[0] ?? '';
  const header = (name: string) => new RegExp(`^${name}\\s*:\\s*([^\\r\\n]*)`, 'im').exec(head)?.[1]?.trim();
  return {
    status: Number(status[1]),
    reason: status[2] ?? '',
    method: (header('CSeq') ?? '').split(/\s+/)[1]?.toUpperCase() ?? '',
    callId: header('Call-ID') ?? header('i') ?? '',
    text,
    header,
  };
}

export interface SipRequestOptions {
  method: string;
  uri: string;
  /** host:port of the local socket, for Via and Contact. */
  local: string;
  headers?: Record<string, string>;
  body?: string;
  callId?: string;
  cseq?: number;
}

/** A well-formed request (the starting point a test or a mutator changes). */
export function sipRequest(options: SipRequestOptions): string {
  const body = options.body ?? '';
  const lines = [
    `${options.method} ${options.uri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${options.local};branch=z9hG4bK${randomBytes(8).toString('hex')};rport`,
    'Max-Forwards: 70',
    `From: <sip:caller@${options.local.split(':')[0]}>;tag=${randomBytes(4).toString('hex')}`,
    `To: <${options.uri.split(';')[0]}>`,
    `Call-ID: ${options.callId ?? `${randomBytes(10).toString('hex')}@hostile`}`,
    `CSeq: ${options.cseq ?? 1} ${options.method}`,
    `Contact: <sip:caller@${options.local}>`,
    ...Object.entries(options.headers ?? {}).map(([name, value]) => `${name}: ${value}`),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ];
  return lines.join('\r\n');
}

/** An SDP offer for PCMU from the given address. */
export function sdpOffer(address = '127.0.0.1', port = 40_000): string {
  return [
    'v=0',
    `o=hostile 1 1 IN IP4 ${address}`,
    's=-',
    `c=IN IP4 ${address}`,
    't=0 0',
    `m=audio ${port} RTP/AVP 0 101`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=sendrecv',
    '',
  ].join('\r\n');
}

export class SipUdpClient {
  readonly #socket: Socket;
  readonly #listeners = new Set<(reply: SipReply) => void>();
  /** Every response received so far, in order. */
  readonly replies: SipReply[] = [];
  /** Every request received (NOTIFYs, BYEs), answered 200 OK. */
  readonly requests: string[] = [];
  /** What came from anywhere but `acceptFrom` and was dropped, as a NAT binding or a firewall drops it. */
  readonly dropped: { from: string; text: string }[] = [];
  /**
   * When set (host:port), only packets from there are taken: a phone behind NAT that only its
   * proxy reaches.
   */
  acceptFrom: string | undefined;
  /** The status it answers a request with (default 200): a phone that forgot a subscription says 481. */
  answerWith: (request: string) => number = () => 200;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('message', (data, remote) => {
      const text = data.toString('latin1');
      const from = `${remote.address}:${remote.port}`;
      if (this.acceptFrom !== undefined && from !== this.acceptFrom) {
        this.dropped.push({ from, text });
        return;
      }
      if (/^[A-Z]+ \S+ SIP\/2\.0\r?\n/.test(text)) {
        this.requests.push(text);
        if (!text.startsWith('ACK ')) this.send(answerFor(text, this.answerWith(text)));
        return;
      }
      const reply = parseReply(text);
      if (!reply) return;
      this.replies.push(reply);
      for (const listener of this.#listeners) listener(reply);
      // A final answer to an INVITE is acknowledged, or it comes again and again (RFC 3261 timer G).
      if (reply.method === 'INVITE' && reply.status >= 300) this.send(ackFor(reply, this.local));
    });
  }

  /** A socket on `address` (any 127.x works on Linux loopback) and a free port. */
  static open(address = '127.0.0.1'): Promise<SipUdpClient> {
    return new Promise((resolve, reject) => {
      const socket = createSocket('udp4');
      socket.once('error', reject);
      socket.bind(0, address, () => resolve(new SipUdpClient(socket)));
    });
  }

  /** host:port of this end. */
  get local(): string {
    const { address, port } = this.#socket.address();
    return `${address}:${port}`;
  }

  target = '127.0.0.1:5060';

  send(message: string | Buffer): void {
    const [host, port] = this.target.split(':');
    this.#socket.send(typeof message === 'string' ? Buffer.from(message, 'latin1') : message, Number(port), host);
  }

  /**
   * Sends a request and collects the replies with its Call-ID until a final one (or `timeoutMs`
   * of silence after the last): [] when nothing came back.
   */
  async exchange(message: string, timeoutMs = 3_000): Promise<SipReply[]> {
    const callId = /^(?:Call-ID|i)\s*:\s*([^\r\n]*)/im.exec(message)?.[1]?.trim();
    const seen: SipReply[] = [];
    await new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.#listeners.delete(listener);
        resolve();
      };
      const listener = (reply: SipReply) => {
        if (callId !== undefined && reply.callId !== callId) return;
        seen.push(reply);
        clearTimeout(timer);
        if (reply.status >= 200) finish();
        else timer = setTimeout(finish, timeoutMs);
      };
      let timer = setTimeout(finish, timeoutMs);
      this.#listeners.add(listener);
      this.send(message);
    });
    return seen;
  }

  /** Acknowledges a 2xx to an INVITE at once, as a phone does (its retransmissions stop). */
  ack(ok: SipReply, uri: string): void {
    this.send(this.#inDialog(ok, uri)('ACK', Number((ok.header('CSeq') ?? '1').split(/\s+/)[0])));
  }

  /** Ends a dialog a 2xx to an INVITE opened: ACK (again, if it was acknowledged already: harmless), then BYE. */
  hangUp(ok: SipReply, uri: string): void {
    const cseq = Number((ok.header('CSeq') ?? '1').split(/\s+/)[0]);
    const request = this.#inDialog(ok, uri);
    this.send(request('ACK', cseq));
    this.send(request('BYE', cseq + 1));
  }

  /** Requests of the dialog a 2xx to an INVITE opened, by method and CSeq number. */
  #inDialog(ok: SipReply, uri: string): (method: string, n: number) => string {
    const to = ok.header('To') ?? '';
    const from = ok.header('From') ?? '';
    return (method: string, n: number) =>
      [
        `${method} ${uri} SIP/2.0`,
        `Via: SIP/2.0/UDP ${this.local};branch=z9hG4bK${randomBytes(8).toString('hex')};rport`,
        'Max-Forwards: 70',
        `From: ${from}`,
        `To: ${to}`,
        `Call-ID: ${ok.callId}`,
        `CSeq: ${n} ${method}`,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}

const REASONS: Record<number, string> = { 200: 'OK', 404: 'Not Found', 481: 'Call/Transaction Does Not Exist' };

/** The answer to a request we received (200 OK unless told otherwise): its Via, From, To, Call-ID and CSeq. */
function answerFor(request: string, status: number): string {
  const head = request.split(/\r?\n\r?\n/)[0] ?? '';
  const copied = head.split(/\r?\n/).filter((line) => /^(Via|v|From|f|To|t|Call-ID|i|CSeq)\s*:/i.test(line));
  return [`SIP/2.0 ${status} ${REASONS[status] ?? 'Answer'}`, ...copied, 'Content-Length: 0', '', ''].join('\r\n');
}

/** The ACK of a non-2xx final response: same Via branch, From, Call-ID and CSeq number, To with its tag. */
function ackFor(reply: SipReply, local: string): string {
  const cseq = (reply.header('CSeq') ?? '1').split(/\s+/)[0] ?? '1';
  const to = reply.header('To') ?? '';
  const uri = /<([^>]+)>/.exec(to)?.[1] ?? `sip:${local}`;
  return [
    `ACK ${uri} SIP/2.0`,
    `Via: ${reply.header('Via') ?? `SIP/2.0/UDP ${local}`}`,
    'Max-Forwards: 70',
    `From: ${reply.header('From') ?? ''}`,
    `To: ${to}`,
    `Call-ID: ${reply.callId}`,
    `CSeq: ${cseq} ACK`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}
