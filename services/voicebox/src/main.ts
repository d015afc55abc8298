/**
 * The voicebox service (docs/behaviour.md §4, §5): runs the voicebox (listen to messages) and annrecorder
 * (record your greeting) applications. It keeps nothing of its own: calls live in NATS KV,
 * messages and greetings in storage, so any number of instances share the calls.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { stagingBucket } from '@sipvm/contracts';
import { runService, startCallRuntime } from '@sipvm/service';
import { voiceboxConfig } from './config.js';
import { voiceboxApplication } from './call/app.js';
import { PinLockout } from './voicebox/pin.js';

await runService({
  name: 'voicebox',
  config: voiceboxConfig,
  async start({ config, log, nc, registry }) {
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const staging = await stagingBucket(nc);
    const lockout = await PinLockout.open(nc, { lockAfter: config.VOICEBOX_LOCK_AFTER, lockMs: config.VOICEBOX_LOCK_MS });
    const app = voiceboxApplication({ nc, staging, config, lockout, registry });
    const calls = await startCallRuntime({ nc, js, jsm, log, registry, app });
    log.info({ keys: config.VOICEBOX_KEYS, inputTimeoutMs: config.VOICEBOX_INPUT_TIMEOUT_MS }, 'voicebox and annrecorder ready');
    return { stop: () => calls.stop() };
  },
});
