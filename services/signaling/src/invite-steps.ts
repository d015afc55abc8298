/**
 * A new INVITE, step by step (drachtio-srf middleware, as jambonz's `lib/middleware.js`): each
 * step checks one thing and refuses with the SIP reply that says what is wrong, or hands on to the
 * next. In order (main.ts):
 *
 *   initLocals         the request's context and log                       (request-context.ts)
 *   initInvite         CANCEL is noticed from now on
 *   admitCall          503 + Retry-After while calls cannot be recorded    (admission.ts)
 *   checkCallId        400 for a Call-ID that cannot be logged or stored
 *   trustSource        403 for anyone but a proxy (shared with SUBSCRIBE)  (trust.ts)
 *   requireSdpOffer    488 without an SDP offer
 *   checkContact       400 unless the Contact is one SIP URI
 *   negotiateTimers    422 for a session interval below Min-SE             (session-timer.ts)
 *   selectApplication  404 when nothing selects a known application       (app-selection.ts)
 *   trustApplication   403 for a mailbox application from anyone but a proxy
 *   resolveParameters  400 naming the bad P-App-Param key or header; the PIN sealed  (app-params.ts)
 *
 * and then `Calls.answer` gets media's SDP answer and answers.
 * Sequence: docs/flows/deposit.md
 */
import { CallIdSchema, sealPin, type AppParams } from '@sipvm/contracts';
import type { SignalingConfig } from './config.js';
import { AppParamError, printable, resolveAppParams } from './app-params.js';
import { selectApplication as select, type MappingRule } from './app-selection.js';
import { callerOf } from './caller.js';
import type { Calls } from './calls.js';
import { contextOf, need, refuse } from './request-context.js';
import { header, parseUri, SDP_TYPE, splitHeaderList, uriOf, type Step } from './sip-stack.js';
import { negotiateSessionTimer } from './session-timer.js';
import type { TrustPolicy } from './trust.js';

export interface InviteStepsOptions {
  calls: Pick<Calls, 'refusal' | 'admit' | 'countInvite'>;
  trust: TrustPolicy;
  config: SignalingConfig;
  mapping: readonly MappingRule[];
}

export function inviteSteps({ calls, trust, config, mapping }: InviteStepsOptions) {
  const initInvite: Step = (req, _res, next) => {
    const context = contextOf(req);
    context.onRefused = (status) => {
      calls.countInvite(String(status));
      context.release?.();
    };
    req.on('cancel', () => {
      context.canceled = true;
    });
    next();
  };

  const admitCall: Step = (req, res, next) => {
    const down = calls.refusal();
    if (down) return refuse(req, res, 503, `Service Unavailable (${down})`, { 'Retry-After': String(config.RETRY_AFTER_S) });
    contextOf(req).release = calls.admit();
    next();
  };

  const checkCallId: Step = (req, res, next) => {
    const callId = CallIdSchema.safeParse(req.get('Call-ID'));
    if (!callId.success) return refuse(req, res, 400, 'Bad Call-ID');
    contextOf(req).callId = callId.data;
    next();
  };

  const requireSdpOffer: Step = (req, res, next) => {
    const contentType = (header(req, 'Content-Type') ?? '').split(';')[0]?.trim().toLowerCase();
    if (!req.body || req.body.trim() === '' || contentType !== SDP_TYPE) return refuse(req, res, 488, 'Not Acceptable Here (SDP offer required)');
    next();
  };

  // RFC 3261 §8.1.1.8: an INVITE's Contact is one SIP or SIPS URI; nothing else can be the
  // target of our BYE. (drachtio-server 1.0.0 at 9c2dd4cb died answering, even refusing, an INVITE
  // over UDP whose Contact has no host, such as `*` or a tel: URI, unless it runs with
  // --disable-nat-detection, as it does everywhere here: test/e2e/src/hostile/trust.test.ts.)
  const checkContact: Step = (req, res, next) => {
    const contacts = req.has('Contact') ? splitHeaderList(req.get('Contact')) : [];
    if (contacts.length !== 1 || !/^sips?:/i.test(uriOf(contacts[0] ?? ''))) return refuse(req, res, 400, 'Bad Request (Contact must be one SIP URI)');
    next();
  };

  const negotiateTimers: Step = (req, res, next) => {
    const timers = negotiateSessionTimer({
      sessionExpires: header(req, 'Session-Expires') ?? header(req, 'x'),
      minSe: header(req, 'Min-SE'),
      supported: header(req, 'Supported') ?? header(req, 'k'),
    });
    if (!timers.ok) return refuse(req, res, timers.status, timers.reason, timers.headers);
    contextOf(req).timers = timers;
    next();
  };

  const selectApplication: Step = (req, res, next) => {
    const ruri = parseUri(req.uri);
    const appParam = ruri?.params.app;
    const selection = select(
      {
        appName: trust.appHeader(req, 'P-App-Name'),
        ruri: req.uri,
        ruriUser: ruri?.user,
        ruriAppParam: typeof appParam === 'string' ? appParam : undefined,
      },
      config.APP_FALLBACKS,
      mapping,
    );
    if (!selection.ok) return refuse(req, res, selection.status, selection.reason);
    contextOf(req).selection = selection;
    next();
  };

  const resolveParameters: Step = async (req, res, next) => {
    const context = contextOf(req);
    const { app } = need(context.selection, 'the application');
    const ruri = parseUri(req.uri);
    let params: AppParams;
    try {
      const { pin, ...resolved } = resolveAppParams(
        trust.appHeader(req, 'P-App-Param'),
        app,
        {
          ruriUser: ruri?.user,
          ruriHost: ruri?.host,
          fromUri: uriOf(req.get('From') ?? ''),
          emailHeader: trust.appHeader(req, 'P-Email-Address'),
          languageHeader: trust.appHeader(req, 'P-Language'),
        },
        { defaultMode: config.DEFAULT_MODE, defaultLanguage: config.DEFAULT_LANGUAGE, extraKeys: config.APP_PARAM_EXTRA_KEYS },
      );
      context.finalReply = parseFinalReply(trust.appHeader(req, 'P-Final-Reply-Code'), trust.appHeader(req, 'P-Final-Reply-Reason'));
      // The caller as a person; a withheld one leaves no trace of who it was, the sender included.
      const { caller, sender } = callerOf({ from: req.get('From') ?? '', privacy: header(req, 'Privacy'), sender: resolved.sender });
      const withCaller = { ...resolved, sender, caller };
      // The PIN is sealed here, where it enters: only its verifier goes further (contracts' pin.ts).
      params = app === 'voicebox' && pin !== undefined ? { ...withCaller, pin: await sealPin(pin) } : withCaller;
    } catch (error) {
      if (error instanceof AppParamError) return refuse(req, res, 400, `Bad Request (${error.message})`);
      throw error;
    }
    context.params = params;
    next();
  };

  return { initInvite, admitCall, checkCallId, requireSdpOffer, checkContact, negotiateTimers, selectApplication, resolveParameters };
}

/** P-Final-Reply-Code / -Reason (SEMS early_announce): a 3xx–6xx code and printable text. */
export function parseFinalReply(code: string | undefined, reason: string | undefined): { code: number; reason: string } | undefined {
  if (code === undefined) return undefined;
  if (!/^\s*[3-6]\d\d\s*$/.test(code)) throw new AppParamError(`P-Final-Reply-Code "${printable(code, 8)}" is not a 3xx-6xx code`);
  const text = (reason ?? '').trim();
  if (text.length > 128 || /[^\x20-\x7e]/.test(text)) throw new AppParamError('P-Final-Reply-Reason must be printable text of at most 128 characters');
  return { code: Number(code.trim()), reason: text || 'Unavailable' };
}
