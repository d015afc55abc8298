/**
 * The voicemail service (docs/behaviour.md §2, §3): runs leave-a-message calls, turns finished recordings into
 * messages (the deposit step), hears them with the transcription engine where a domain wants their
 * text, and sends mail from the durable outbox.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { stagingBucket } from '@sipvm/contracts';
import { ConfigError, Domains, runService, startCallRuntime } from '@sipvm/service';
import { checkMailConfig, mailConfig } from './mail/config.js';
import { BUILTIN_TEMPLATE_DIR, TemplateSet } from './mail/template-set.js';
import { TemplateError } from './mail/template.js';
import { knownVariables } from './mail/variables.js';
import { createSmtpTransport } from './mail/smtp.js';
import { startMailOutbox } from './mail/outbox.js';
import { startNoticeMailer } from './mail/notices.js';
import { depositConfig } from './deposit/config.js';
import { startDepositProcessor } from './deposit/processor.js';
import { callConfig } from './call/config.js';
import { voicemailApplication } from './call/app.js';
import { Greetings } from './call/greetings.js';
import { checkTranscriptionConfig, transcriptionConfig, transcriptionFor } from './transcription/config.js';
import { TranscriptClaims } from './transcription/claims.js';
import { createEngine } from './transcription/engines.js';
import { startTranscriber } from './transcription/transcriber.js';

await runService({
  name: 'voicemail',
  config: { ...mailConfig, ...depositConfig, ...callConfig, ...transcriptionConfig },
  check: (config) => [...checkMailConfig(config), ...checkTranscriptionConfig(config)],
  async prepare(config) {
    const dirs = [BUILTIN_TEMPLATE_DIR, ...(config.MAIL_TEMPLATE_DIR ? [config.MAIL_TEMPLATE_DIR] : [])];
    const domains = await Domains.of(config.VM_DOMAINS_FILE);
    // The engine only where some domain has transcription on: off everywhere, nothing of it runs.
    const engine = config.VM_TRANSCRIPTION !== 'off' || domains.anyTranscribes ? await createEngine(config) : undefined;
    try {
      return { templates: await TemplateSet.load(dirs, knownVariables(config.MAIL_EXTRA_VARIABLES)), domains, engine };
    } catch (error) {
      // A broken template is a configuration error (docs/behaviour.md §3): found at start-up, not per mail.
      if (error instanceof TemplateError) throw new ConfigError(error.message.split('\n').map((line) => `mail template ${line}`));
      throw error;
    }
  },
  async start({ config, log, nc, registry, prepared: { templates, domains, engine } }) {
    log.info({ templates: templates.names, domains: domains.size }, 'mail templates and domain settings loaded');

    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const staging = await stagingBucket(nc);
    const claims = await TranscriptClaims.open(nc);
    const transcriptionOf = (did: string) => transcriptionFor(domains.of(did), config);
    const deposits = await startDepositProcessor({ nc, js, jsm, staging, config, transcriptionOf, log, registry });
    if (engine)
      for (const problem of await engine.problems())
        log.error({ engine: engine.name, problem }, 'the transcription engine cannot work: messages get no transcript');
    const transcriber = engine
      ? await startTranscriber({
          nc,
          js,
          jsm,
          staging,
          engine,
          claims,
          concurrency: config.TRANSCRIBE_CONCURRENCY,
          timeoutMs: config.TRANSCRIBE_TIMEOUT_MS,
          maxAgeMs: config.TRANSCRIBE_MAX_AGE,
          tmpDir: config.TRANSCRIBE_TMP_DIR,
          log,
          registry,
        })
      : undefined;
    const outbox = await startMailOutbox({
      nc,
      js,
      jsm,
      staging,
      templates,
      transport: createSmtpTransport(config),
      retryDelaysMs: config.MAIL_RETRY_DELAYS,
      concurrency: config.MAIL_CONCURRENCY,
      timeZone: config.MAIL_TIME_ZONE,
      extraKeys: config.MAIL_EXTRA_VARIABLES,
      claims,
      log,
      registry,
    });
    const notices = await startNoticeMailer({ js, jsm, log });
    const greetings = new Greetings(nc, { keepMs: config.VM_GREETING_CACHE_MS, log });
    greetings.start();
    const calls = await startCallRuntime({ nc, js, jsm, log, registry, app: voicemailApplication({ nc, config, domains, greetings, deposits }) });
    return {
      async stop() {
        await calls.stop();
        greetings.stop();
        await deposits.stop();
        await transcriber?.stop();
        await notices.stop();
        await outbox.stop();
      },
    };
  },
});
