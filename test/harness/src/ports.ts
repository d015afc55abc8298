/**
 * Free loopback ports for the servers the tests start, below the kernel's ephemeral range.
 *
 * Not the kernel's port 0: that hands out ephemeral ports (32768–60999), which the kernel also gives
 * to outgoing connections at any moment. A server bound seconds after its port was picked (a
 * container's published port: CI saw docker refuse 127.0.0.1:42879, "address already in use"), or
 * stopped and started again on it (the outage tests), may find it taken — even by a client of its
 * own: a connect to a loopback port nobody listens on can pick that very port as its local one and
 * connect to itself. 10000–19999 is clear of the ephemeral range and of the RTP ranges the harness
 * and `npm start` use (20000 on).
 */
import { connect, createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';

/**
 * Ports handed out by this process: two components told the same port collide when they start (CI
 * saw signaling's HTTP port equal to compose's published NATS port), so a port is handed out once.
 */
const handedOut = new Set<number>();

/** A port free for TCP now, and with `udp` for UDP as well (SIP, rtpengine's ng port). */
export async function freePort(host = '127.0.0.1', options: { udp?: boolean } = {}): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * 10_000);
    if (handedOut.has(port)) continue;
    if (!(await tcpFree(port, host)) || (options.udp && !(await udpFree(port, host)))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port in 10000–19999 on ${host}`);
}

/** A port free for both TCP and UDP (SIP listens on both). */
export function freeTcpUdpPort(host = '127.0.0.1'): Promise<number> {
  return freePort(host, { udp: true });
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
