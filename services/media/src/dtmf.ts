/**
 * rtpengine's DTMF reports (`dtmf-log-dest`): one UDP datagram of JSON per digit, e.g.
 * {"callid":"…","source_tag":"caller","type":"DTMF","event":5,"duration":100,"volume":10,…}.
 * They become digit events; the call id we give rtpengine is the callRef.
 */
import { createSocket, type Socket } from 'node:dgram';
import { z } from 'zod';
import { DIGITS, type Digit } from '@sipvm/contracts';
import type { Logger } from '@sipvm/service';

export const DtmfReportSchema = z.object({
  callid: z.string(),
  source_tag: z.string().optional(),
  type: z.string().optional(),
  event: z.number().int().min(0).max(15),
  duration: z.number().optional(),
  timestamp: z.number().optional(),
});
export type DtmfReport = z.infer<typeof DtmfReportSchema>;

/** RFC 4733 events 0–15: 0–9, *, #, A–D. */
export function digitOfEvent(event: number): Digit {
  const digit = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D'][event];
  if (!digit || !(DIGITS as readonly string[]).includes(digit)) throw new Error(`no digit for event ${event}`);
  return digit as Digit;
}

export async function listenForDtmf(address: { host: string; port: number }, onReport: (report: DtmfReport) => void, log: Logger): Promise<Socket> {
  const socket = createSocket('udp4');
  socket.on('message', (data) => {
    let raw: unknown;
    try {
      raw = JSON.parse(data.toString('utf8'));
    } catch {
      log.warn({ bytes: data.length }, 'DTMF report is not JSON; ignored');
      return;
    }
    const parsed = DtmfReportSchema.safeParse(raw);
    if (!parsed.success) {
      log.warn({ report: data.toString('utf8').slice(0, 300) }, 'DTMF report not understood; ignored');
      return;
    }
    log.debug({ report: parsed.data }, 'DTMF report');
    onReport(parsed.data);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(address.port, address.host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', (error) => log.error({ err: String(error) }, 'DTMF socket error'));
  return socket;
}
