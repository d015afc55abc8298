/**
 * A phone registered: the proxy tells the platform with a third-party REGISTER (as an IMS
 * registrar tells its application servers: 3GPP TS 24.229 §5.4.1.7), the subscriber's address of
 * record in To and their mailbox in P-App-Param, and the mailbox's lamp is sent at once through
 * `MWI_PROXY` — a phone restarted or roamed shows the right lamp without waiting for the next
 * message. The shipped Kamailio configuration sends it after every registration
 * (deploy/kamailio/kamailio.cfg, route MWI_REGISTERED).
 *
 * Only a trusted proxy may (its steps refuse anyone else with 403, as for SUBSCRIBE). The platform
 * keeps no registration: the 200 says it heard, nothing more. A de-registration (Expires 0) is
 * answered and changes nothing.
 */
import { AppParamError } from './app-params.js';
import type { SignalingConfig } from './config.js';
import { mailboxOfRequest } from './mwi-mailbox.js';
import type { UnsolicitedMwi } from './mwi-unsolicited.js';
import { contextOf } from './request-context.js';
import { header, reply, type SipRequest, type SipResponse } from './sip-stack.js';
import type { TrustPolicy } from './trust.js';

export function onRegister(options: { trust: TrustPolicy; config: SignalingConfig; unsolicited: UnsolicitedMwi }) {
  return (req: SipRequest, res: SipResponse): void => {
    const { log } = contextOf(req);
    const expires = header(req, 'Expires')?.trim() ?? /;\s*expires\s*=\s*(\d+)/i.exec(header(req, 'Contact') ?? '')?.[1];
    const ending = expires === '0' || header(req, 'Contact')?.trim() === '*';
    let mailbox;
    try {
      // The address of record is the To URI (the Request-URI of a REGISTER names the registrar's domain).
      mailbox = mailboxOfRequest(req, options.trust, options.config, toUriOf(req));
    } catch (error) {
      if (!(error instanceof AppParamError)) throw error;
      return reply(res, 400, `Bad Request (${error.message})`);
    }
    reply(res, 200, 'OK', { ...(header(req, 'Contact') ? { Contact: header(req, 'Contact') } : {}), Expires: ending ? '0' : (expires ?? '3600') });
    if (ending || !options.unsolicited.enabled) return;
    log.info({ mailbox: `${mailbox.uid}@${mailbox.did}` }, 'a phone of the mailbox registered; sending its lamp');
    void options.unsolicited.notifyNow(mailbox, log);
  };
}

function toUriOf(req: SipRequest): string {
  const to = req.get('To') ?? '';
  return /<([^>]+)>/.exec(to)?.[1] ?? to.split(';')[0]?.trim() ?? '';
}
