/**
 * Transferring a caller to another party (SignalingApi.transfer: `0` to the operator, docs/behaviour.md §2).
 *
 * `refer` is the blind transfer of RFC 5589 §6.1: a REFER in the caller's dialog (so it passes the
 * proxy like every in-dialog request) asks the caller's side — the phone, or the carrier's SBC on
 * its behalf — to call the target, and its NOTIFYs (RFC 3515, `message/sipfrag`) tell how that
 * call went. A final 2xx is success: the platform then ends its own dialog. A REFER refused, or a
 * final failure (busy, no answer, …), leaves the call as it was. Accepted but not reported on
 * within the wait (phones that send no NOTIFYs, a target that rings long): the caller's side has
 * the call in hand, so it counts as transferred, as a blind transfer would.
 *
 * `bridge` is for callers that cannot take a REFER (PSTN gateways, trunks): the platform calls the
 * target itself — through TRANSFER_PROXY, the carrier's proxy, like any call into its network — with
 * the caller as From, and once the target answers, rtpengine relays between the two (media.ts
 * bridgeOffer/bridge); the platform stays in the call as a back-to-back user agent until either side
 * hangs up. A target that fails or does not answer in time leaves the caller where it was.
 * Sequence: docs/flows/transfer.md
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { MediaApi, request, SipUriSchema } from '@sipvm/contracts';
import type { Logger } from '@sipvm/service';
import { header, placeCall, requestInDialog, statusOfFailure, uriOf, type Srf, type SipDialog, type SipRequest, type SipResponse } from './sip-stack.js';

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
    const response = await requestInDialog(dialog, { method: 'REFER', headers: { 'Refer-To': `<${target}>`, ...referredBy(dialog) } });
    if (response.status >= 300) return { outcome: 'failed', status: response.status, reason: `REFER refused: ${response.reason}` };
    const waited = new Promise<TransferOutcome>((resolve) => {
      timer = setTimeout(
        () => resolve({ outcome: 'transferred', reason: `REFER accepted; no final NOTIFY within ${options.timeoutMs} ms` }),
        options.timeoutMs,
      );
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

/** What media does for a bridge (MediaApi bridgeOffer, bridge, updateSession to undo). */
export interface MediaBridge {
  /** rtpengine's offer toward the target, made from the caller's SDP. */
  offer(callerSdp: string): Promise<string>;
  /** The target answered with `targetSdp`: connect them; the SDP for the caller comes back. */
  connect(targetSdp: string): Promise<string>;
  /** The attempt failed: the session is the caller's and the platform's again. */
  restore(callerSdp: string): Promise<void>;
}

export function mediaBridge(nc: NatsConnection, call: { callRef: string; callId: string; mediaInstance: string }): MediaBridge {
  const options = { callId: call.callId };
  const { callRef, mediaInstance } = call;
  return {
    offer: async (callerSdp) => (await request(nc, MediaApi.bridgeOffer(mediaInstance), { callRef, callerSdp }, options)).sdpOffer,
    connect: async (sdpAnswer) => (await request(nc, MediaApi.bridge(mediaInstance), { callRef, sdpAnswer }, options)).sdpAnswer,
    restore: async (callerSdp) => void (await request(nc, MediaApi.updateSession(mediaInstance), { callRef, sdpOffer: callerSdp }, options)),
  };
}

export interface BridgeOptions {
  srf: Srf;
  media: MediaBridge;
  /** Outbound proxy of the call to the target; unset: the target's own host. */
  proxy: string | undefined;
  /** How long the target may take to answer (then the INVITE is cancelled). */
  timeoutMs: number;
  log: Logger;
}

/** Calls the target and connects the caller to it; `party` is the target's dialog when it worked. */
export async function bridgeCaller(dialog: SipDialog, target: string, options: BridgeOptions): Promise<TransferOutcome & { party?: SipDialog }> {
  const callerSdp = dialog.remote.sdp;
  let offer: string;
  try {
    offer = await options.media.offer(callerSdp);
  } catch (error) {
    return { outcome: 'failed', reason: `media cannot connect the caller: ${error instanceof Error ? error.message : String(error)}` };
  }
  // The caller hanging up while the target rings cancels the call to the target.
  const callerGone = new AbortController();
  const onDestroy = () => callerGone.abort();
  dialog.on('destroy', onDestroy);
  const headers: Record<string, string> = { ...referredBy(dialog) };
  const caller = SipUriSchema.safeParse(uriOf(dialog.req?.get('From') ?? ''));
  if (caller.success) headers.From = `<${caller.data}>`;
  let party: SipDialog;
  try {
    party = await placeCall(options.srf, target, {
      localSdp: offer,
      headers,
      proxy: options.proxy,
      signal: AbortSignal.any([callerGone.signal, AbortSignal.timeout(options.timeoutMs)]),
    });
  } catch (error) {
    await options.media.restore(callerSdp).catch((e: unknown) => options.log.warn({ err: String(e) }, 'media session not restored after the failed bridge'));
    const sip = statusOfFailure(error);
    if (sip)
      return {
        outcome: 'failed',
        status: sip.status,
        reason: sip.status === 487 && !callerGone.signal.aborted ? `no answer within ${options.timeoutMs} ms` : sip.reason,
      };
    return { outcome: 'failed', reason: `the call to the target failed: ${error instanceof Error ? error.message : String(error)}` };
  } finally {
    dialog.removeListener('destroy', onDestroy);
  }
  try {
    await options.media.connect(party.remote.sdp);
  } catch (error) {
    party.destroy();
    await options.media.restore(callerSdp).catch(() => undefined);
    return { outcome: 'failed', reason: `media cannot connect the caller: ${error instanceof Error ? error.message : String(error)}` };
  }
  return { outcome: 'transferred', status: 200, party };
}

/** Referred-By: the mailbox the caller called (the INVITE's To), shown to the target (RFC 3892). */
function referredBy(dialog: SipDialog): Record<string, string> {
  const referrer = SipUriSchema.safeParse(uriOf(dialog.req?.get('To') ?? ''));
  return referrer.success ? { 'Referred-By': `<${referrer.data}>` } : {};
}

/** The status line of a `message/sipfrag` body (RFC 3420), e.g. `SIP/2.0 486 Busy Here`. */
export function statusOfSipfrag(body: string): { status: number; reason: string } | undefined {
  const match = /^\s*SIP\/2\.0\s+(\d{3})(?:[ \t]+([^\r\n]*))?/.exec(body);
  if (!match) return undefined;
  return { status: Number(match[1]), reason: (match[2] ?? '').trim().slice(0, 128) };
}
