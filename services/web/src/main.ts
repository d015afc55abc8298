/**
 * The web service: the platform's face on the web. An HTTP API and a web inbox for mailboxes,
 * and webhooks on new messages. It owns no data: messages and greetings are storage's (asked over
 * NATS, audio staged and read in chunks like any other service does), so a change made here is
 * a mailbox event like a change on the phone, and MWI follows it.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { stagingBucket } from '@sipvm/contracts';
import { ConfigError, Domains, runService } from '@sipvm/service';
import { webConfig, type WebConfig } from './config.js';
import { readSecret } from './secrets.js';
import { loadWebhookTargets, type WebhookTargets } from './webhooks/targets.js';
import { TokenSigner } from './tokens.js';
import { Authenticator } from './auth.js';
import { Revocations } from './revocations.js';
import { RateLimiter } from './rate-limit.js';
import { startWebServer, type Route } from './http/server.js';
import { sendJson } from './http/problem.js';
import { openApiDocument } from './openapi.js';
import { inboxRoutes } from './inbox.js';
import { tokenRoutes } from './api/tokens.js';
import { messageRoutes } from './api/messages.js';
import { greetingRoutes } from './api/greetings.js';
import { startWebhookFanout } from './webhooks/fanout.js';
import { startNoticeFanout } from './webhooks/notices.js';
import { startWebhookDelivery } from './webhooks/delivery.js';

interface Prepared {
  operatorKey: string;
  tokenSecrets: string[];
  targets: WebhookTargets;
  inbox: Route[];
  domains: Domains;
}

/** Secrets, webhook targets and the inbox's files: all read before anything connects. */
async function prepare(config: WebConfig): Promise<Prepared> {
  const problems: string[] = [];
  const operator = await readSecret(
    { variable: 'WEB_OPERATOR_KEY', value: config.WEB_OPERATOR_KEY, fileVariable: 'WEB_OPERATOR_KEY_FILE', file: config.WEB_OPERATOR_KEY_FILE },
    { required: true },
  );
  const tokenSecret = await readSecret(
    { variable: 'WEB_TOKEN_SECRET', value: config.WEB_TOKEN_SECRET, fileVariable: 'WEB_TOKEN_SECRET_FILE', file: config.WEB_TOKEN_SECRET_FILE },
    { required: true },
  );
  for (const secret of [operator, tokenSecret]) if (secret && 'problem' in secret) problems.push(secret.problem);
  if (operator && 'lines' in operator && operator.lines.length > 1) problems.push('WEB_OPERATOR_KEY(_FILE): must hold one key (one line)');
  if (config.WEB_TOKEN_TTL > config.WEB_TOKEN_MAX_TTL) problems.push('WEB_TOKEN_TTL: must not be longer than WEB_TOKEN_MAX_TTL');
  const webhooks = await loadWebhookTargets(config);
  problems.push(...webhooks.problems);
  if (problems.length > 0 || !operator || !('lines' in operator) || !tokenSecret || !('lines' in tokenSecret)) throw new ConfigError(problems);
  const domains = await Domains.of(config.VM_DOMAINS_FILE);
  return { operatorKey: operator.lines[0]!, tokenSecrets: tokenSecret.lines, targets: webhooks.targets, inbox: await inboxRoutes(), domains };
}

await runService({
  name: 'web',
  config: webConfig,
  prepare,
  async start({ config, log, nc, registry, prepared }) {
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const staging = await stagingBucket(nc);
    const signer = new TokenSigner(prepared.tokenSecrets);
    const revocations = await Revocations.open(nc, log);
    const deps = { nc, staging, signer, config, domains: prepared.domains };
    const openApi = openApiDocument();
    const routes: Route[] = [
      ...prepared.inbox,
      { method: 'GET', path: '/api/v1/openapi.json', access: { kind: 'public' }, handle: async ({ res }) => sendJson(res, 200, openApi) },
      ...tokenRoutes(signer, revocations, config),
      ...messageRoutes(deps),
      ...greetingRoutes(deps),
    ];
    // Deliveries are worked off even with no targets left, so leftovers are reported, not stranded.
    const workers = [
      await startWebhookDelivery({
        js,
        jsm,
        targets: prepared.targets,
        retryDelaysMs: config.WEBHOOK_RETRY_DELAYS,
        timeoutMs: config.WEBHOOK_TIMEOUT_MS,
        concurrency: config.WEBHOOK_CONCURRENCY,
        log,
        registry,
      }),
      ...(prepared.targets.size > 0
        ? [await startWebhookFanout({ nc, js, jsm, targets: prepared.targets, log }), await startNoticeFanout({ js, jsm, targets: prepared.targets, log })]
        : []),
    ];
    log.info(
      { targets: prepared.targets.describe(), retries: config.WEBHOOK_RETRY_DELAYS.length },
      prepared.targets.size > 0 ? 'webhooks on' : 'no webhook targets configured',
    );
    const server = await startWebServer({
      host: config.WEB_HOST,
      port: config.WEB_PORT,
      routes,
      authenticator: new Authenticator(prepared.operatorKey, signer, revocations),
      perAddress: new RateLimiter(config.WEB_RATE_PER_ADDRESS),
      perToken: new RateLimiter(config.WEB_RATE_PER_TOKEN),
      trustedProxies: config.WEB_TRUSTED_PROXIES,
      log,
      registry,
    });
    log.info({ host: config.WEB_HOST, port: server.port }, 'web API and inbox listening');
    return {
      async stop() {
        await server.close();
        revocations.stop();
        for (const worker of workers) await worker.stop();
      },
    };
  },
});
