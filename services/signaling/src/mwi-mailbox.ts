/** The mailbox a SUBSCRIBE or a REGISTER is about: P-App-Param uid/did from the proxy, else the Request-URI's user and host. */
import type { Mailbox } from '@sipvm/contracts';
import { resolveAppParams } from './app-params.js';
import type { SignalingConfig } from './config.js';
import { parseUri, uriOf, type SipRequest } from './sip-stack.js';
import type { TrustPolicy } from './trust.js';

/** Throws AppParamError (fit for a SIP reason) when P-App-Param names no valid mailbox. */
export function mailboxOfRequest(
  req: SipRequest,
  trust: TrustPolicy,
  config: Pick<SignalingConfig, 'DEFAULT_MODE' | 'DEFAULT_LANGUAGE'>,
  uri = req.uri,
): Mailbox {
  const target = parseUri(uri);
  const params = resolveAppParams(
    trust.appHeader(req, 'P-App-Param'),
    'voicebox',
    { ruriUser: target?.user, ruriHost: target?.host, fromUri: uriOf(req.get('From') ?? '') },
    { defaultMode: config.DEFAULT_MODE, defaultLanguage: config.DEFAULT_LANGUAGE, extraKeys: [] },
  );
  return { uid: params.uid, did: params.did };
}
