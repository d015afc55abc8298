/**
 * Transferring a caller to another party (SignalingApi.transfer: `0` to the operator, SPEC §2).
 *
 * `refer` is the blind transfer of RFC 5589 §6.1: a REFER in the caller's dialog (so it passes the
 * proxy like every in-dialog request) asks the caller's side — the phone, or the carrier's SBC on
 * its behalf — to call the target, and its NOTIFYs (RFC 3515, `message/sipfrag`) tell how that
 * call went. A final 2xx is success: the platform then ends its own dialog. A REFER refused, or a
 * final failure (busy, no answer, …), leaves the call as it was. Accepted but not reported on
 * within the wait (phones that send no NOTIFYs, a target that rings long): the caller's side has
 * the call in hand, so it counts as transferred, as a blind transfer would.
 */
import { SipUriSchema } from '@sipvm/contracts';
import type { Logger } from '@sipvm/service';
import { header, requestInDialog, uriOf, type SipDialog, type SipRequest, type SipResponse } from './sip-stack.js';

export interface TransferOutcome {
  outcome: 'transferred' | 'failed';
  /** The SIP status that decided it (REFER's response, or the one the NOTIFY reported). */
  status?: number;
  reason?: string;
}

export interface ReferOptions {
  /** How long to wait for the final NOTIFY after the REFER was accepted. */
  timeoutMs: number;
  log: Logger;
}

export async function referCaller(dialog: SipDialog, target: string, options: ReferOptions): Promise<TransferOutcome> {
  let settle: (outcome: TransferOutcome) => void = () => undefined;
  const reported = new Promise<TransferOutcome>((resolve) => (settle = resolve));
  // Listening before the REFER goes out: its first NOTIFY can come with the 202.
  const onNotify = (req: SipRequest, res: SipResponse) => {
    res.send(200);
    if (!/^refer\b/i.test(header(req, 'Event') ?? header(req, 'o') ?? '')) return;
    const frag = statusOfSipfrag(req.body ?? '');
    const terminated = /^terminated/i.test(header(req, 'Subscription-State') ?? '');
    options.log.debug({ status: frag?.status, terminated }, 'transfer progress (NOTIFY)');
    if (frag && frag.status >= 200) settle({ outcome: frag.status < 300 ? 'transferred' : 'failed', status: frag.status, reason: frag.reason });
    else if (terminated) settle({ outcome: 'failed', reason: 'the transfer subscription ended without a final status' });
  };
  // The caller hanging up while its side calls the target: it went over to the target.
  const onDestroy = () => settle({ outcome: 'transferred', reason: 'the caller ended the call during the transfer' });
  dialog.on('notify', onNotify);
  dialog.on('destroy', onDestroy);
  let timer: NodeJS.Timeout | undefined;
  try {
    const headers: Record<string, string> = { 'Refer-To': `<${target}>` };
    // Who refers: the mailbox the caller called (the INVITE's To), shown to the target.
    const referrer = SipUriSchema.safeParse(uriOf(dialog.req?.get('To') ?? ''));
    if (referrer.success) headers['Referred-By'] = `<${referrer.data}>`;
    const response = await requestInDialog(dialog, { method: 'REFER', headers });
    if (response.status >= 300) return { outcome: 'failed', status: response.status, reason: `REFER refused: ${response.reason}` };
    const waited = new Promise<TransferOutcome>((resolve) => {
      timer = setTimeout(() => resolve({ outcome: 'transferred', reason: `REFER accepted; no final NOTIFY within ${options.timeoutMs} ms` }), options.timeoutMs);
    });
    return await Promise.race([reported, waited]);
  } catch (error) {
    return { outcome: 'failed', reason: `REFER could not be sent: ${error instanceof Error ? error.message : String(error)}` };
  } finally {
    clearTimeout(timer);
    dialog.removeListener('notify', onNotify);
    dialog.removeListener('destroy', onDestroy);
  }
}

/** The status line of a `message/sipfrag` body (RFC 3420), e.g. `SIP/2.0 486 Busy Here`. */
export function statusOfSipfrag(body: string): { status: number; reason: string } | undefined {
  const match = /^\s*SIP\/2\.0\s+(\d{3})(?:[ \t]+([^\r\n]*))?/.exec(body);
  if (!match) return undefined;
  return { status: Number(match[1]), reason: (match[2] ?? '').trim().slice(0, 128) };
}
