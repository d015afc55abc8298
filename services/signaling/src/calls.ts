/**
 * Calls (docs/behaviour.md §8): once a new INVITE's steps (invite-steps.ts) have chosen the application and its
 * parameters, get the SDP answer from media, answer, and turn SIP into call events. CANCEL before
 * the answer ends in 487, an outage of media in 503. BYE from either side, or a hangup command,
 * ends the call everywhere: the dialog, the media session and the applications.
 * Sequences: docs/flows/deposit.md, docs/flows/hangup-and-handover.md, docs/flows/transfer.md
 */
import { randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  CallStartedEventSchema,
  DigitEventSchema,
  encodeJson,
  isServiceError,
  CallApi,
  MediaApi,
  publishCallEnded,
  request,
  startSpan,
  SUBJECTS,
  tracedPublish,
  toServiceError,
  untilAvailable,
  withinSpan,
  type Application,
  type CallEndedEvent,
  type TraceSpan,
  type TransferMethod,
} from '@sipvm/contracts';
import { InFlight, type Logger } from '@sipvm/service';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { z } from 'zod';
import type { SignalingConfig } from './config.js';
import type { Admission } from './admission.js';
import type { MediaAvailability } from './media-availability.js';
import { digitFromInfo } from './dtmf.js';
import { contextOf, need, refuse, type RequestContext } from './request-context.js';
import { header, reply, SDP_TYPE, type SipDialog, type SipRequest, type SipResponse, type Srf } from './sip-stack.js';
import { expiryMs, type SessionTimer } from './session-timer.js';
import { bridgeCaller, mediaBridge, referCaller, type TransferOutcome } from './transfer.js';

type EndReason = CallEndedEvent['reason'];

type CallStartedEventInput = z.input<typeof CallStartedEventSchema>;

interface Call {
  readonly callRef: string;
  readonly callId: string;
  readonly app: Application;
  readonly mediaInstance: string;
  readonly log: Logger;
  phase: 'early' | 'answered' | 'ended';
  dialog?: SipDialog;
  /** The INVITE's response, while the call is in early media. */
  res?: SipResponse;
  /**
   * While the 200 OK is on its way: settles once the call is answered or is not. The caller (and
   * so its application) may have the 200 before drachtio-server has confirmed sending it here.
   */
  answering?: Promise<unknown>;
  finalReply?: { code: number; reason: string };
  earlyTimer?: NodeJS.Timeout;
  /** RFC 4028, when the caller asked for it. */
  sessionTimer?: SessionTimer;
  sessionTimeout?: NodeJS.Timeout;
  sessionRefresh?: NodeJS.Timeout;
  /** After a transfer by bridge: the call to the party the caller is connected to. */
  bridge?: { dialog: SipDialog; ended: boolean };
  /** The call's trace, from INVITE to hang-up (only when tracing is on). */
  span?: TraceSpan | undefined;
}

export interface CallsOptions {
  srf: Srf;
  nc: NatsConnection;
  log: Logger;
  registry: Registry;
  config: SignalingConfig;
  instanceId: string;
  /** Why new calls cannot be taken now (NATS or media down, overload, shutting down), or undefined. */
  unavailable: () => string | undefined;
  /** Told when media failed a call, so that the next INVITE does not wait for the next probe. */
  media: MediaAvailability;
  /** Told how long media took to answer each offer. */
  admission: Admission;
}

export class Calls {
  readonly #options: CallsOptions;
  readonly #calls = new Map<string, Call>();
  readonly #endsInFlight = new InFlight();
  /** INVITEs let in and not yet answered or refused: they count against the cap too. */
  #admitted = 0;
  readonly #invites: Counter<'outcome'>;
  readonly #ended: Counter<'reason'>;
  readonly #appStartFailures: Counter;

  constructor(options: CallsOptions) {
    this.#options = options;
    this.#invites = new Counter({
      name: 'sipvm_sip_invites_total',
      help: 'New INVITEs by outcome (answered, early-media, or the SIP status sent)',
      labelNames: ['outcome'],
      registers: [options.registry],
    });
    this.#ended = new Counter({ name: 'sipvm_calls_ended_total', help: 'Calls ended, by reason', labelNames: ['reason'], registers: [options.registry] });
    this.#appStartFailures = new Counter({
      name: 'sipvm_calls_not_taken_total',
      help: 'Calls that no application instance took within APP_START_TIMEOUT_MS (refused with 503, or ended after early media)',
      registers: [options.registry],
    });
    const calls = this.#calls;
    new Gauge({
      name: 'sipvm_calls_active',
      help: 'Calls held by this instance',
      registers: [options.registry],
      collect() {
        this.set(calls.size);
      },
    });
  }

  get size(): number {
    return this.#calls.size;
  }

  /** Why a new call would be refused now (outage, overload, capacity), or undefined. */
  refusal(): string | undefined {
    return this.#options.unavailable() ?? this.#options.admission.refusal(this.#calls.size + this.#admitted);
  }

  /** A place among the calls being answered (they count against the cap); the release is idempotent. */
  admit(): () => void {
    this.#admitted++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#admitted--;
    };
  }

  countInvite(outcome: string): void {
    this.#invites.inc({ outcome });
  }

  /**
   * The last step of a new INVITE, once its steps (invite-steps.ts) have admitted, trusted and
   * understood it: media's SDP answer, then 200 (or 183 for an early-media announcement), and the
   * call-started event. Never throws: every failure becomes a SIP reply.
   */
  async answer(req: SipRequest, res: SipResponse): Promise<void> {
    const context = contextOf(req);
    const callRef = randomBytes(12).toString('hex');
    // The call's trace: what it asks of media and its application, its end and its message join it.
    const span = startSpan('call', { 'sip.call_id': context.callId, 'sipvm.call_ref': callRef, 'sipvm.app': context.selection?.app });
    let held = false;
    try {
      held = await withinSpan(span, () => this.#answer(req, res, context, callRef, span));
    } catch (error) {
      context.log.error({ err: String(error), stack: (error as Error).stack }, 'INVITE handling failed');
      if (!res.finalResponseSent) refuse(req, res, 500, 'Server Internal Error');
    } finally {
      context.release?.();
      // A call that was never held (refused, cancelled) ends its trace here; one held, at its end.
      if (!held) span?.end();
    }
  }

  /**
   * True when the call was taken in (it ends by #end, which ends its span). The steps: media's
   * SDP answer, the call held, the call-started event, then either early media (183, the
   * application plays, a final reply) or the application taking the call and the 200.
   */
  async #answer(req: SipRequest, res: SipResponse, context: RequestContext, callRef: string, span: TraceSpan | undefined): Promise<boolean> {
    const callId = need(context.callId, 'the Call-ID');
    const { app } = need(context.selection, 'the application');
    const log = context.log.child({ callRef, app });
    const media = await this.#openMedia(req, res, context, { callRef, callId, app, log });
    if (!media) return false;
    const call: Call = {
      callRef,
      callId,
      app,
      mediaInstance: media.mediaInstance,
      log,
      phase: 'early',
      finalReply: context.finalReply,
      sessionTimer: need(context.timers, 'the session timer').timer,
    };
    if (context.canceled) {
      await this.#closeMedia(call);
      this.#invites.inc({ outcome: '487' });
      reply(res, 487, 'Request Terminated');
      return false;
    }
    this.#hold(call, req, res, span);
    const started = this.#startedEvent(call, context, media);
    if (started.earlyMedia) this.#answerInEarlyMedia(call, res, started, media.sdpAnswer, context);
    else await this.#answerOnceTaken(call, req, res, started, media.sdpAnswer, context);
    return true;
  }

  /** Media's SDP answer for the INVITE's offer; on failure the INVITE is refused and undefined returned. */
  async #openMedia(
    req: SipRequest,
    res: SipResponse,
    context: RequestContext,
    call: Pick<Call, 'callRef' | 'callId' | 'app' | 'log'>,
  ): Promise<{ mediaInstance: string; sdpAnswer: string; codec: string } | undefined> {
    const asked = performance.now();
    try {
      const media = await request(
        this.#options.nc,
        MediaApi.openSession(this.#options.config.MEDIA_NODE),
        { callRef: call.callRef, callId: call.callId, app: call.app, sdpOffer: req.body },
        { callId: call.callId, timeoutMs: this.#options.config.MEDIA_TIMEOUT_MS },
      );
      // Time spent waiting out a NATS election is not load: admission would refuse for nothing.
      this.#options.admission.mediaAnswered(performance.now() - asked - (media.natsWaitMs ?? 0));
      return media;
    } catch (error) {
      const failure = toServiceError(error);
      call.log.warn({ kind: failure.kind, err: failure.message }, 'media could not open a session');
      if (context.canceled) this.#invites.inc({ outcome: '487' });
      else if (failure.kind === 'bad-request') refuse(req, res, 488, 'Not Acceptable Here (media refused the offer)');
      else {
        void this.#options.media.probe();
        refuse(req, res, 503, 'Service Unavailable (media)', { 'Retry-After': String(this.#options.config.RETRY_AFTER_S) });
      }
      return undefined;
    }
  }

  /**
   * The call is held from here: until it is answered, its INVITE is its SIP side (a hang-up
   * command or an early-media announcement's end replies on it, and a CANCEL ends the call).
   */
  #hold(call: Call, req: SipRequest, res: SipResponse, span: TraceSpan | undefined): void {
    call.span = span;
    call.res = res;
    this.#calls.set(call.callRef, call);
    req.on('cancel', () => void this.#end(call, 'cancelled', 'remote'));
  }

  /** What the application is told; ann mode may be answered with early media (a 183, then a final reply). */
  #startedEvent(call: Call, context: RequestContext, media: { mediaInstance: string; codec: string }): CallStartedEventInput {
    const params = need(context.params, 'the parameters');
    const earlyMedia = call.app === 'voicemail' && params.mode === 'ann' && this.#options.config.ANN_EARLY_MEDIA;
    if (earlyMedia) call.finalReply ??= { code: this.#options.config.ANN_FINAL_REPLY_CODE, reason: this.#options.config.ANN_FINAL_REPLY_REASON };
    return {
      callRef: call.callRef,
      callId: call.callId,
      at: new Date().toISOString(),
      app: call.app,
      params,
      signalingInstance: this.#options.instanceId,
      mediaInstance: media.mediaInstance,
      mediaNode: this.#options.config.MEDIA_NODE,
      codec: media.codec.slice(0, 32),
      earlyMedia,
      ...(earlyMedia && call.finalReply ? { finalReply: call.finalReply } : {}),
    };
  }

  #logStarted(call: Call, context: RequestContext, earlyMedia: boolean): void {
    const params = need(context.params, 'the parameters');
    const by = need(context.selection, 'the application').by;
    call.log.info(
      { mode: params.mode, mailbox: { uid: params.uid, did: params.did }, selectedBy: by, earlyMedia, pin: params.pin !== undefined },
      'call started',
    );
  }

  /** The announcement is the early media: 183 first, then the application plays it and asks for the final reply. */
  #answerInEarlyMedia(call: Call, res: SipResponse, started: CallStartedEventInput, sdpAnswer: string, context: RequestContext): void {
    res.send(183, 'Session Progress', { headers: { 'Content-Type': SDP_TYPE }, body: sdpAnswer });
    call.earlyTimer = setTimeout(() => void this.#end(call, 'media-timeout', 'local'), this.#options.config.ANN_EARLY_MEDIA_TIMEOUT_MS);
    this.#invites.inc({ outcome: 'early-media' });
    this.#logStarted(call, context, true);
    void this.#handToApplication(call, started).then((taken) => taken || this.#end(call, 'error', 'local'));
  }

  /**
   * The application takes the call before the caller is answered: while it cannot (a NATS
   * election, every instance restarting) the caller hears ringback, not silence after the answer,
   * and a call nobody takes is refused, so the proxy may try another node. Then the 200.
   */
  async #answerOnceTaken(
    call: Call,
    req: SipRequest,
    res: SipResponse,
    started: CallStartedEventInput,
    sdpAnswer: string,
    context: RequestContext,
  ): Promise<void> {
    if (!(await this.#handToApplication(call, started))) {
      if (isEnded(call)) {
        // Cancelled, or ended by its application.
        if (context.canceled) this.#invites.inc({ outcome: '487' });
        return;
      }
      refuse(req, res, 503, 'Service Unavailable (application)', { 'Retry-After': String(this.#options.config.RETRY_AFTER_S) });
      await this.#end(call, 'error', 'remote');
      return;
    }
    if (isEnded(call)) return;
    delete call.res;
    const timers = need(context.timers, 'the session timer');
    let dialog: SipDialog;
    try {
      const answering = this.#options.srf.createUAS(req, res, { localSdp: sdpAnswer, headers: { 'Content-Type': SDP_TYPE, ...timers.headers } });
      call.answering = answering.catch(() => undefined);
      dialog = await answering;
    } catch (error) {
      // CANCEL (drachtio-server answers it with 487) or the caller went away.
      this.#invites.inc({ outcome: context.canceled ? '487' : 'failed' });
      call.log.info({ err: String(error), canceled: context.canceled }, 'call not answered');
      await this.#end(call, context.canceled ? 'cancelled' : 'error', 'remote');
      return;
    }
    if (isEnded(call)) {
      // Its application hung up while the answer was on its way.
      dialog.destroy();
      return;
    }
    call.dialog = dialog;
    call.phase = 'answered';
    this.#watchDialog(call, dialog);
    this.#invites.inc({ outcome: 'answered' });
    this.#logStarted(call, context, false);
  }

  /**
   * Hands the call to its application and asks again until an instance takes it (none may be
   * subscribed for a moment: reconnecting after a NATS server died, restarting) or the call ends.
   * False when no instance took it within APP_START_TIMEOUT_MS (logged and counted) or it ended.
   */
  async #handToApplication(call: Call, event: CallStartedEventInput): Promise<boolean> {
    let attempts = 0;
    const offer = async () => {
      attempts++;
      try {
        return await request(this.#options.nc, CallApi.start(call.app), event, { callId: call.callId });
      } catch (error) {
        if (attempts === 1 && call.phase !== 'ended')
          call.log.warn({ err: toServiceError(error).message }, 'the application did not take the call yet; asking again');
        throw error;
      }
    };
    try {
      await untilAvailable(offer, { deadlineMs: this.#options.config.APP_START_TIMEOUT_MS, isFinal: () => call.phase === 'ended' });
      if (attempts > 1) call.log.info({ attempts }, 'the application took the call');
      return true;
    } catch (error) {
      if (call.phase === 'ended') return false;
      call.log.error({ err: toServiceError(error).message, attempts }, 'no application instance took the call');
      this.#appStartFailures.inc();
      return false;
    }
  }

  #watchDialog(call: Call, dialog: SipDialog): void {
    dialog.on('destroy', () => void this.#end(call, 'caller-hangup', 'remote'));
    this.#armSessionTimer(call, dialog);
    // Every re-INVITE reaches 'modify' (no 'refresh'/'hold' listeners), and re-arms the timer there.
    dialog.on('update', (req, res) => {
      this.#armSessionTimer(call, dialog);
      res.send(200, req.body?.trim() ? { headers: { 'Content-Type': SDP_TYPE }, body: dialog.local.sdp } : {});
    });
    dialog.on('info', (req, res) => {
      const body = req.body ?? '';
      const digit = digitFromInfo(header(req, 'Content-Type'), body);
      if (digit === undefined && body.trim() !== '') {
        res.send(415, 'Unsupported Media Type', { headers: { Accept: 'application/dtmf-relay, application/dtmf' } });
        return;
      }
      res.send(200);
      if (digit === undefined) return;
      call.log.debug({ digit }, 'digit from SIP INFO');
      this.#publish(call, DigitEventSchema, SUBJECTS.call.digit(call.app), {
        callRef: call.callRef,
        callId: call.callId,
        at: new Date().toISOString(),
        digit,
        source: 'sip-info',
      });
    });
    dialog.on('modify', (req, res) => void this.#onReinvite(call, dialog, req, res));
  }

  /** Re-INVITE (hold, unhold, codec change): media answers the new offer; no offer gets our last SDP. */
  async #onReinvite(call: Call, dialog: SipDialog, req: SipRequest, res: SipResponse): Promise<void> {
    this.#armSessionTimer(call, dialog);
    const offer = req.body?.trim() ? req.body : undefined;
    if (offer === undefined) {
      res.send(200, { headers: { 'Content-Type': SDP_TYPE }, body: dialog.local.sdp });
      return;
    }
    try {
      // Bridged: rtpengine takes the caller's new offer and keeps relaying to the party (whose side is not renegotiated).
      const media = mediaBridge(this.#options.nc, call);
      const { sdpAnswer } = call.bridge
        ? { sdpAnswer: (await media.offer(offer), await media.connect(call.bridge.dialog.remote.sdp)) }
        : await request(this.#options.nc, MediaApi.updateSession(call.mediaInstance), { callRef: call.callRef, sdpOffer: offer }, { callId: call.callId });
      res.send(200, { headers: { 'Content-Type': SDP_TYPE }, body: sdpAnswer });
      call.log.info('re-INVITE answered');
    } catch (error) {
      const failure = toServiceError(error);
      call.log.warn({ kind: failure.kind, err: failure.message }, 're-INVITE refused');
      if (failure.kind === 'bad-request') res.send(488, 'Not Acceptable Here', {});
      else res.send(500, 'Server Internal Error', { headers: { 'Retry-After': '3' } });
    }
  }

  /**
   * (Re)starts the session timer: the caller refreshes, or the call ends a little before the
   * interval is over; with us as refresher, a re-INVITE with our SDP goes out at half the interval.
   */
  #armSessionTimer(call: Call, dialog: SipDialog): void {
    const timer = call.sessionTimer;
    if (!timer || call.phase === 'ended') return;
    clearTimeout(call.sessionTimeout);
    clearTimeout(call.sessionRefresh);
    call.sessionTimeout = setTimeout(() => {
      call.log.warn({ interval: timer.interval }, 'session not refreshed in time (RFC 4028)');
      void this.#end(call, 'media-timeout', 'local');
    }, expiryMs(timer));
    if (timer.refresher === 'uas') {
      call.sessionRefresh = setTimeout(
        () => {
          dialog.modify(dialog.local.sdp).then(
            () => this.#armSessionTimer(call, dialog),
            (error: unknown) => call.log.warn({ err: String(error) }, 'session refresh failed'),
          );
        },
        (timer.interval * 1000) / 2,
      );
    }
  }

  /** Hangup command: BYE when answered, the final reply while in early media. */
  async hangup(callRef: string, reason: string | undefined): Promise<boolean> {
    const call = this.#calls.get(callRef);
    if (!call) return false;
    call.log.info({ reason }, 'hangup requested');
    return this.#end(call, 'app-hangup', 'local');
  }

  /** After an early-media announcement: the final error reply. False when not in early media. */
  async finalReply(callRef: string, code: number, reason: string): Promise<boolean> {
    const call = this.#calls.get(callRef);
    if (!call || call.phase !== 'early') return false;
    call.finalReply = { code, reason: reason.replace(/[^\x20-\x7e]/g, ' ') };
    return this.#end(call, 'app-hangup', 'local');
  }

  /**
   * Transfers an answered caller (transfer.ts) and says how it went. A transferred call's dialog
   * ends here (`transferred`); a failed transfer leaves the call to its application.
   */
  async transfer(callRef: string, target: string, method: TransferMethod): Promise<TransferOutcome> {
    const call = this.#calls.get(callRef);
    await call?.answering;
    if (!call?.dialog || call.phase !== 'answered') return { outcome: 'failed', reason: 'no answered call to transfer' };
    call.log.info({ target, method }, 'transfer requested');
    const { TRANSFER_TIMEOUT_MS: timeoutMs, TRANSFER_PROXY: proxy } = this.#options.config;
    const result =
      method === 'refer'
        ? await referCaller(call.dialog, target, { timeoutMs, log: call.log })
        : await bridgeCaller(call.dialog, target, { srf: this.#options.srf, media: mediaBridge(this.#options.nc, call), proxy, timeoutMs, log: call.log });
    const { party, ...outcome } = result as TransferOutcome & { party?: SipDialog };
    call.log.info({ target, method, ...outcome }, outcome.outcome === 'transferred' ? 'caller transferred' : 'transfer failed');
    if (party) {
      if (!this.#calls.has(callRef)) {
        party.destroy();
        return { outcome: 'failed', reason: 'the caller hung up' };
      }
      // The platform stays between the two until either hangs up.
      const bridge = { dialog: party, ended: false };
      call.bridge = bridge;
      party.on('destroy', () => {
        bridge.ended = true;
        void this.#end(call, 'transferred', 'local');
      });
    } else if (outcome.outcome === 'transferred') {
      await this.#end(call, 'transferred', 'local');
    }
    return outcome;
  }

  /** Ends every call (shutdown), and waits until every end is published. */
  async endAll(): Promise<void> {
    await Promise.all([...this.#calls.values()].map((call) => this.#end(call, 'error', 'local')));
    await this.#endsInFlight.idle();
  }

  /** Ends a call once: the SIP side (unless the peer ended it), media, and the ended event. */
  async #end(call: Call, why: EndReason, by: 'local' | 'remote'): Promise<boolean> {
    if (call.phase === 'ended') return false;
    // A bridged call was transferred, whoever ends it.
    const reason = call.bridge ? 'transferred' : why;
    const wasEarly = call.phase === 'early';
    call.phase = 'ended';
    this.#calls.delete(call.callRef);
    clearTimeout(call.earlyTimer);
    clearTimeout(call.sessionTimeout);
    clearTimeout(call.sessionRefresh);
    if (by === 'local') {
      try {
        if (wasEarly && call.res) {
          const final = call.finalReply ?? { code: this.#options.config.ANN_FINAL_REPLY_CODE, reason: this.#options.config.ANN_FINAL_REPLY_REASON };
          reply(call.res, final.code, final.reason);
        } else if (call.dialog) {
          await new Promise<void>((resolve) => call.dialog?.destroy({ headers: {} }, () => resolve()));
        }
      } catch (error) {
        call.log.warn({ err: String(error) }, 'ending the SIP side failed');
      }
    }
    const bridge = call.bridge;
    if (bridge && !bridge.ended) {
      bridge.ended = true;
      await new Promise<void>((resolve) => bridge.dialog.destroy({ headers: {} }, () => resolve())).catch((error: unknown) =>
        call.log.warn({ err: String(error) }, 'ending the bridged call failed'),
      );
    }
    await this.#closeMedia(call);
    this.#ended.inc({ reason });
    // Not waited for here (a hang-up command's reply must not wait out a NATS election), but before shutdown.
    void this.#endsInFlight.track(
      withinSpan(call.span, () =>
        publishCallEnded(this.#options.nc, call.app, { callRef: call.callRef, callId: call.callId, at: new Date().toISOString(), reason }),
      ).catch((error: unknown) => call.log.error({ err: toServiceError(error).message }, 'the end of the call could not be published')),
    );
    call.span?.setAttribute('sipvm.end_reason', reason);
    call.span?.end();
    call.log.info({ reason, by }, 'call ended');
    return true;
  }

  async #closeMedia(call: Pick<Call, 'callRef' | 'callId' | 'mediaInstance' | 'log'>): Promise<void> {
    try {
      await request(this.#options.nc, MediaApi.closeSession(call.mediaInstance), { callRef: call.callRef }, { callId: call.callId });
    } catch (error) {
      // Media closes sessions it no longer hears about on its own; a lost close is not fatal.
      call.log.warn({ err: toServiceError(error).message, kind: isServiceError(error) ? error.kind : 'internal' }, 'media session close failed');
    }
  }

  #publish<S extends z.ZodType>(call: Call, schema: S, subject: string, event: z.input<S>): void {
    try {
      const data = encodeJson(schema.parse(event));
      withinSpan(call.span, () => this.#options.nc.publish(subject, data, tracedPublish()));
    } catch (error) {
      this.#options.log.error({ subject, err: String(error) }, 'call event could not be published');
    }
  }
}

/** Read again after an await: the call may have ended meanwhile (narrowing does not see that). */
function isEnded(call: Call): boolean {
  return call.phase === 'ended';
}
