/**
 * The signaling service: the only one that speaks SIP. drachtio-srf on drachtio-server takes the
 * calls (calls.ts), the applications' commands arrive over NATS (commands.ts), and mailbox events
 * become MWI NOTIFYs (mwi-notifier.ts, mwi-subscriptions.ts).
 *
 * It keeps running through outages: without NATS or drachtio-server /readyz says so, new calls
 * get 503, and both connections come back by themselves.
 */
import { ConfigError, runService } from '@sipvm/service';
import { loadMappingFile, MappingFileError, type MappingRule } from './app-selection.js';
import { Calls } from './calls.js';
import { serveCommands } from './commands.js';
import { checkSignalingConfig, signalingConfig } from './config.js';
import { startMwiNotifier } from './mwi-notifier.js';
import { Admission } from './admission.js';
import { registerAdmissionMetrics } from './metrics.js';
import { MediaAvailability } from './media-availability.js';
import { MwiSubscriptions } from './mwi-subscriptions.js';
import { UnsolicitedMwi } from './mwi-unsolicited.js';
import { onRegister } from './mwi-registrations.js';
import { Counter } from 'prom-client';
import { inviteSteps } from './invite-steps.js';
import { contextOf, initContext, refuse } from './request-context.js';
import { connectDrachtio, onRequest, reply, SDP_TYPE, transportOfUri, useSteps, type SipRequest, type SipResponse } from './sip-stack.js';
import { TrustedSources, TrustPolicy } from './trust.js';

await runService({
  name: 'signaling',
  config: signalingConfig,
  check: checkSignalingConfig,
  async prepare(config): Promise<{ mapping: MappingRule[] }> {
    if (config.APP_MAPPING_FILE === undefined) return { mapping: [] };
    try {
      return { mapping: await loadMappingFile(config.APP_MAPPING_FILE) };
    } catch (error) {
      if (error instanceof MappingFileError) throw new ConfigError([`APP_MAPPING_FILE ("${config.APP_MAPPING_FILE}"): ${error.message}`]);
      throw error;
    }
  },
  async start({ config, log, nc, natsConnected, registry, readiness, drain, prepared }) {
    const sip = connectDrachtio({
      host: config.DRACHTIO_HOST,
      port: config.DRACHTIO_PORT,
      secret: config.DRACHTIO_SECRET,
      log,
      // A proxy drachtio-server cannot reach would lose every unsolicited NOTIFY, one warning each: say why once.
      onConnect: (transports) => {
        const needed = config.MWI_PROXY === undefined ? undefined : transportOfUri(config.MWI_PROXY);
        if (needed !== undefined && !transports.has(needed))
          log.error(
            { MWI_PROXY: config.MWI_PROXY, transports: [...transports] },
            `MWI_PROXY is reached over ${needed}, which drachtio-server does not listen on: no unsolicited NOTIFY can go out (give drachtio-server a ${needed} contact, or MWI_PROXY another transport)`,
          );
      },
    });
    readiness.add('drachtio', () => sip.connected());
    const media = new MediaAvailability({ nc, node: config.MEDIA_NODE, log, intervalMs: config.MEDIA_PROBE_INTERVAL_MS });
    await media.start();
    readiness.add('media', () => media.available);
    // Draining (preStop's POST /drain, or SIGTERM): new INVITEs, SUBSCRIBEs and OPTIONS get 503, so
    // the proxy sends them to another node; the calls in progress go on. SUBSCRIBE needs only the
    // bus; a call needs media as well.
    const unavailable = () => (drain.draining ? 'draining' : natsConnected() ? undefined : 'message bus unreachable');
    const admission = new Admission(
      {
        maxCalls: config.MAX_CALLS,
        maxLoopDelayMs: config.OVERLOAD_LOOP_DELAY_MS,
        maxMediaAnswerMs: config.OVERLOAD_MEDIA_ANSWER_MS,
        windowMs: config.OVERLOAD_WINDOW_MS,
      },
      (overloaded, measured) =>
        overloaded ? log.warn(measured, 'overloaded: new calls get 503 until it passes') : log.info(measured, 'no longer overloaded: taking calls'),
    );
    registerAdmissionMetrics(registry, admission);
    const unavailableForCalls = (): string | undefined => unavailable() ?? (media.available ? undefined : 'media unavailable');
    const trust = new TrustPolicy(
      { sources: new TrustedSources(config.TRUSTED_PROXIES), untrustedHeaders: config.UNTRUSTED_APP_HEADERS, untrustedCalls: config.UNTRUSTED_CALLS },
      registry,
    );
    log.info(
      {
        trustedProxies: config.TRUSTED_PROXIES,
        untrustedHeaders: config.UNTRUSTED_APP_HEADERS,
        untrustedCalls: config.UNTRUSTED_CALLS,
        fallbacks: config.APP_FALLBACKS,
        mappingRules: prepared.mapping.length,
      },
      'application selection',
    );

    const calls = new Calls({ srf: sip.srf, nc, log, registry, config, instanceId: config.INSTANCE_ID, unavailable: unavailableForCalls, media, admission });
    drain.track(() => calls.size);
    const subscriptions = await MwiSubscriptions.open({ srf: sip.srf, nc, log, config, instanceId: config.INSTANCE_ID, trust, unavailable });
    // A step that fails unexpectedly: 500, and the stack in the log.
    const failed = (error: unknown, req: SipRequest, res: SipResponse) => {
      contextOf(req).log.error({ err: String(error), stack: (error as Error).stack }, `${req.method} handling failed`);
      if (!res.finalResponseSent) refuse(req, res, 500, 'Server Internal Error');
    };
    const initLocals = initContext(log);
    const invite = inviteSteps({ calls, trust, config, mapping: prepared.mapping });
    useSteps(
      sip.srf,
      'invite',
      [
        initLocals,
        invite.initInvite,
        invite.admitCall,
        invite.checkCallId,
        trust.trustSource,
        invite.requireSdpOffer,
        invite.checkContact,
        invite.negotiateTimers,
        invite.selectApplication,
        trust.trustApplication,
        invite.resolveParameters,
      ],
      failed,
    );
    onRequest(sip.srf, 'invite', (req, res) => void calls.answer(req, res));
    useSteps(sip.srf, 'subscribe', [initLocals, trust.trustSource], failed);
    onRequest(sip.srf, 'subscribe', (req, res) => void subscriptions.onSubscribe(req, res));
    // OPTIONS: proxies' health checks. 200 only while new calls would be taken.
    onRequest(sip.srf, 'options', (req, res) => {
      const down = calls.refusal();
      if (down) reply(res, 503, `Service Unavailable (${down})`);
      else reply(res, 200, 'OK', { Allow: 'INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, SUBSCRIBE, NOTIFY, REGISTER', Accept: SDP_TYPE });
    });
    const sent = new Counter({
      name: 'sipvm_mwi_notifies_total',
      help: 'MWI NOTIFYs by kind (unsolicited, subscription) and outcome',
      labelNames: ['kind', 'outcome'],
      registers: [registry],
    });
    const unsolicited = await UnsolicitedMwi.open({
      srf: sip.srf,
      nc,
      log,
      config,
      instanceId: config.INSTANCE_ID,
      sent,
      hasSubscriber: (mailbox) => subscriptions.hasSubscriber(mailbox),
    });
    // The proxy's word that a phone registered (a third-party REGISTER): its lamp at once.
    useSteps(sip.srf, 'register', [initLocals, trust.trustSource], failed);
    onRequest(sip.srf, 'register', onRegister({ trust, config, unsolicited }));
    const commands = serveCommands(nc, config.INSTANCE_ID, calls, subscriptions, log, registry);
    const mwi = await startMwiNotifier({ srf: sip.srf, nc, log, registry, config, subscriptions, unsolicited, sent, sipUp: () => sip.connected() });

    return {
      async stop() {
        media.stop();
        admission.stop();
        await mwi.stop();
        unsolicited.stop();
        // Calls in progress may finish within the shutdown time; what is left is ended cleanly.
        const deadline = Date.now() + Math.max(0, config.SHUTDOWN_TIMEOUT_MS - 3_000);
        while (calls.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
        await calls.endAll();
        for (const sub of commands) sub.unsubscribe();
        sip.close();
      },
    };
  },
});
