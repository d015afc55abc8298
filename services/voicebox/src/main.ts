/**
 * The voicebox service (SPEC §4, §5): runs the voicebox (listen to messages) and annrecorder
 * (record your greeting) applications. It keeps nothing of its own: calls live in NATS KV,
 * messages and greetings in storage, so any number of instances share the calls.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { stagingBucket } from '@sipvm/contracts';
import { runService } from '@sipvm/service';
import { voiceboxConfig } from './config.js';
import { startCallRunner } from './call/runner.js';

await runService({
  name: 'voicebox',
  config: voiceboxConfig,
  async start({ config, log, nc, registry }) {
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const staging = await stagingBucket(nc);
    const calls = await startCallRunner({ nc, js, jsm, staging, config, log, registry });
    log.info({ keys: config.VOICEBOX_KEYS, inputTimeoutMs: config.VOICEBOX_INPUT_TIMEOUT_MS }, 'voicebox and annrecorder ready');
    return { stop: () => calls.stop() };
  },
});
