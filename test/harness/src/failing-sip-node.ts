/**
 * A fake sipvm node for the proxy's failover test: a UDP SIP responder that answers OPTIONS with
 * 200 (so the proxy's dispatcher keeps it in the rotation) and every INVITE and SUBSCRIBE with the
 * failure it is told to give (500, 504, …), and counts what it refused. A real node cannot be made
 * to answer a chosen 5xx on demand; what is tested is the proxy's reaction to it.
 */
import { createSocket } from 'node:dgram';

export interface FailingSipNode {
  /** host:port, its dispatcher entry. */
  readonly address: string;
  /** The status every INVITE gets from now on. */
  failWith(status: number): void;
  /** Requests refused so far, as `INVITE 500`, `SUBSCRIBE 504`, … (retransmissions counted once). */
  refused(): Record<string, number>;
  close(): Promise<void>;
}

const REASONS: Record<number, string> = {
  480: 'Temporarily Unavailable',
  500: 'Server Internal Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Server Time-out',
};

export async function startFailingSipNode(host: string): Promise<FailingSipNode> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, () => resolve());
  });
  let status = 500;
  const refused: Record<string, number> = {};
  const seen = new Set<string>();
  socket.on('message', (data, from) => {
    const text = data.toString();
    const request = /^([A-Z]+) \S+ SIP\/2\.0/.exec(text)?.[1];
    if (request === undefined || request === 'ACK') return;
    const head = text.split(/\r?\n\r?\n/)[0] ?? '';
    // A reply copies Via, From, To, Call-ID and CSeq (RFC 3261 §8.2.6.2); To gets a tag.
    const copied = head.split(/\r?\n/).filter((line) => /^(Via|v|From|f|To|t|Call-ID|i|CSeq)\s*:/i.test(line));
    const fails = request === 'INVITE' || request === 'SUBSCRIBE';
    const [code, reason] = fails ? [status, REASONS[status] ?? 'Failure'] : [200, 'OK'];
    const lines = copied.map((line) => (/^(To|t)\s*:/i.test(line) && !/;tag=/i.test(line) ? `${line};tag=failing` : line));
    socket.send([`SIP/2.0 ${code} ${reason}`, ...lines, 'Content-Length: 0', '', ''].join('\r\n'), from.port, from.address);
    const branch = /branch=([^;,\s]+)/i.exec(head)?.[1] ?? '';
    if (fails && !seen.has(branch)) {
      seen.add(branch);
      refused[`${request} ${code}`] = (refused[`${request} ${code}`] ?? 0) + 1;
    }
  });
  return {
    address: `${host}:${socket.address().port}`,
    failWith: (next) => void (status = next),
    refused: () => ({ ...refused }),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
