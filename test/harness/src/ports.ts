/** Free loopback ports, asked of the kernel (bind to port 0), never guessed. */
import { connect, createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';

/**
 * Ports handed out by this process. The kernel may give the same free port to two binds in a row
 * (each socket is closed before the next ask), and two components told the same port collide when
 * they start (CI saw signaling's HTTP port equal to compose's published NATS port); so a port is
 * handed out once.
 */
const handedOut = new Set<number>();

export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await kernelPort(host);
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('no free port that was not handed out already');
}

function kernelPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A port free for both TCP and UDP (SIP listens on both). */
export async function freeTcpUdpPort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freePort(host);
    if (await udpFree(port, host)) return port;
  }
  throw new Error('no port free for both TCP and UDP');
}

/**
 * A free port below the kernel's ephemeral range (32768 on), for a port bound seconds after it is
 * picked — a container's published port. freePort's ports are ephemeral ones, which the kernel also
 * gives to outgoing connections at any moment: one taken in between fails the later bind (CI saw
 * docker refuse to publish 127.0.0.1:42879, "address already in use"). 10000–19999 is clear of the
 * ephemeral range and of the RTP ranges the harness and `npm start` use (20000 on). With `udp`, the
 * port is free for UDP as well (SIP, rtpengine's ng port).
 */
export async function freePortBelowEphemeral(host = '127.0.0.1', options: { udp?: boolean } = {}): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * 10_000);
    if (handedOut.has(port)) continue;
    if (!(await tcpFree(port, host)) || (options.udp && !(await udpFree(port, host)))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('no free port in 10000–19999');
}

function tcpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** Whether a UDP socket can bind the port now. */
export function udpFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => resolve(false));
    socket.bind(port, host, () => socket.close(() => resolve(true)));
  });
}

/** Whether something accepts TCP connections on the port now (a server's readiness probe). */
export function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Whether a UDP socket is bound to the port now (Linux: /proc/net/udp), e.g. a sipp server's. */
export async function udpPortBound(port: number): Promise<boolean> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  const tables = await Promise.all(['/proc/net/udp', '/proc/net/udp6'].map((file) => readFile(file, 'utf8').catch(() => '')));
  return tables.some((table) => table.split('\n').some((line) => line.trim().split(/\s+/)[1]?.endsWith(hex.trim())));
}
