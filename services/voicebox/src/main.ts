/**
 * The voicebox service (docs/behaviour.md §4, §5): runs the voicebox (listen to messages) and annrecorder
 * (record your greeting) applications, each on a call runtime of its own. It keeps nothing of its
 * own: calls live in NATS KV, messages and greetings in storage, so any number of instances share the calls.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { stagingBucket } from '@sipvm/contracts';
import { Domains, runService, startCallRuntime } from '@sipvm/service';
import { voiceboxConfig } from './config.js';
import { voiceboxApplication } from './voicebox/app.js';
import { annrecorderApplication } from './annrecorder/app.js';
import { PinLockout } from './voicebox/pin.js';

await runService({
  name: 'voicebox',
  config: voiceboxConfig,
  prepare: (config) => Domains.of(config.VM_DOMAINS_FILE),
  async start({ config, log, nc, registry, prepared: domains }) {
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const staging = await stagingBucket(nc);
    const lockout = await PinLockout.open(nc, { lockAfter: config.VOICEBOX_LOCK_AFTER, lockMs: config.VOICEBOX_LOCK_MS });
    const voicebox = await startCallRuntime({ nc, js, jsm, log, registry, app: voiceboxApplication({ nc, staging, config, domains, lockout, registry }) });
    const annrecorder = await startCallRuntime({ nc, js, jsm, log, registry, app: annrecorderApplication({ nc, staging, config }) });
    log.info({ keys: config.VOICEBOX_KEYS, inputTimeoutMs: config.VOICEBOX_INPUT_TIMEOUT_MS }, 'voicebox and annrecorder ready');
    return {
      async stop() {
        await voicebox.stop();
        await annrecorder.stop();
      },
    };
  },
});
