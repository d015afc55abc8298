/**
 * The media service: the only owner of rtpengine. It opens one-legged media sessions for calls,
 * plays prompts, greetings and messages into them, records callers into WAVs staged for storage,
 * and turns rtpengine's DTMF reports into digit events.
 */
import { createSocket } from 'node:dgram';
import { stat } from 'node:fs/promises';
import { stagingBucket, type StagingBucket } from '@sipvm/contracts';
import { ConfigError, runService } from '@sipvm/service';
import { mediaConfig } from './config.js';
import { Rtpengine } from './rtpengine.js';
import { MediaState } from './state.js';
import { Recorder } from './recorder.js';
import { Sessions } from './sessions.js';
import { listenForDtmf } from './dtmf.js';
import { serveMediaApi } from './api.js';
import { mediaMetrics, rtpengineLatency } from './metrics.js';
import { buildPrompts, promptsUpToDate } from './prompt-builder.js';
import { loadCatalog, PromptFiles } from './prompts.js';
import { PlayFiles } from './play-files.js';

await runService({
  name: 'media',
  config: mediaConfig,
  async prepare(config) {
    // The prompt set must be there before the first call: build it now, or refuse to start.
    await loadCatalog();
    if (!(await promptsUpToDate(config.PROMPTS_DIR))) {
      if (!config.PROMPTS_BUILD) throw new ConfigError([`PROMPTS_DIR (${config.PROMPTS_DIR}): prompts are missing or outdated and PROMPTS_BUILD is false`]);
      try {
        await buildPrompts(config.PROMPTS_DIR);
      } catch (error) {
        throw new ConfigError([`PROMPTS_DIR (${config.PROMPTS_DIR}): cannot build prompts: ${error instanceof Error ? error.message : String(error)}`]);
      }
    }
    const notFolders = await Promise.all(
      (['SEMS_ANNOUNCE_PATH', 'SEMS_VOICEBOX_PROMPT_PATH', 'SEMS_ANNRECORDER_PROMPT_PATH'] as const).map(async (variable) => {
        const dir = config[variable];
        const isFolder =
          dir === undefined ||
          (await stat(dir).then(
            (s) => s.isDirectory(),
            () => false,
          ));
        return isFolder ? [] : [`${variable} ("${dir}"): is not a folder`];
      }),
    );
    if (notFolders.flat().length > 0) throw new ConfigError(notFolders.flat());
    return undefined;
  },
  async start({ config, log, nc, registry, readiness, drain }) {
    const ngLatency = rtpengineLatency(registry);
    const rtpengine = new Rtpengine({
      host: config.RTPENGINE_NG.host,
      port: config.RTPENGINE_NG.port,
      timeoutMs: config.RTPENGINE_TIMEOUT_MS,
      probeIntervalMs: config.RTPENGINE_PROBE_INTERVAL_MS,
      log,
      timed: (command, outcome, seconds) => ngLatency.observe({ command, outcome }, seconds),
    });
    await rtpengine.start();
    readiness.add('rtpengine', () => rtpengine.up);

    const state = await MediaState.open(nc, config.RECORDING_STATE_TTL_MS);
    let staging: StagingBucket | undefined;
    const getStaging = async () => (staging ??= await stagingBucket(nc));

    const playFiles = await PlayFiles.open({
      dir: config.MEDIA_PLAY_DIR,
      maxKeptBytes: config.MEDIA_PLAY_CACHE_MB * 1024 * 1024,
      sources: {
        nc,
        prompts: new PromptFiles(
          {
            built: config.PROMPTS_DIR,
            override: config.PROMPTS_OVERRIDE_DIR,
            defaultLanguage: config.PROMPTS_DEFAULT_LANGUAGE,
            digitOrders: config.PROMPTS_DIGIT_ORDER,
            sems: {
              announcePath: config.SEMS_ANNOUNCE_PATH,
              defaultAnnounce: config.SEMS_DEFAULT_ANNOUNCE,
              voiceboxPath: config.SEMS_VOICEBOX_PROMPT_PATH,
              annrecorderPath: config.SEMS_ANNRECORDER_PROMPT_PATH,
            },
          },
          config.PROMPTS_LOOKUP_TTL_MS,
          (language, defaultLanguage) => log.warn({ language, defaultLanguage }, "no prompts in this language; playing the default language's"),
        ),
        staging: getStaging,
        beep: { hz: config.BEEP_HZ, ms: config.BEEP_MS },
      },
    });

    const sink = createSocket('udp4');
    await new Promise<void>((resolve) => sink.bind(0, config.MEDIA_SINK_HOST, resolve));
    sink.on('message', () => undefined); // the other leg of every call: caller audio ends here

    const recorder = new Recorder({
      rtpengine,
      state,
      recordingDir: config.RTPENGINE_RECORDING_DIR,
      staging: getStaging,
      log,
      // `sessions` is declared below; the callbacks run only after start-up.
      onMaxDuration: (recording) => sessions.recordingReachedMax(recording),
      silencePollMs: config.MEDIA_SILENCE_POLL_MS,
      onSilence: (callRef, speech) =>
        void sessions
          .recordingFellSilent(callRef, speech)
          .catch((error: unknown) => log.error({ callRef, err: String(error) }, 'cannot end the recording on silence')),
    });
    const sessions: Sessions = new Sessions({
      instance: config.INSTANCE_ID,
      node: config.MEDIA_NODE,
      nc,
      rtpengine,
      state,
      recorder,
      playFiles,
      sink: { host: config.MEDIA_SINK_HOST, port: sink.address().port },
      inbandDtmf: config.MEDIA_INBAND_DTMF,
      silenceToCaller: config.MEDIA_SILENCE_TO_CALLER,
      metrics: mediaMetrics(registry, () => sessions.count),
      log,
    });
    const live = sessions;

    const dtmf = await listenForDtmf(
      config.MEDIA_DTMF_LISTEN,
      (report) => void live.digit(report).catch((error: unknown) => log.error({ err: String(error) }, 'digit event failed')),
      log,
    );
    const subscriptions = serveMediaApi(nc, { instance: config.INSTANCE_ID, node: config.MEDIA_NODE }, live, () => rtpengine.up, log, registry);
    // Draining (preStop's POST /drain, or SIGTERM): no new session; the calls in progress keep theirs.
    drain.track(() => live.count);
    drain.onStart(() => {
      for (const sub of subscriptions.intake) sub.unsubscribe();
    });

    // rtpengine answering again (or at start) may be a new rtpengine: calls it lost are ended.
    const endOrphans = () =>
      void live.endOrphans().then(
        (ended) => ended > 0 && log.warn({ ended }, 'calls whose media rtpengine lost were ended'),
        (error: unknown) => log.error({ err: String(error) }, 'looking for calls rtpengine lost failed'),
      );
    rtpengine.whenReachable(endOrphans);
    if (rtpengine.up) endOrphans();

    const resumed = await recorder.resume();
    if (resumed > 0) log.info({ recordings: resumed }, 'recordings of an earlier run resumed (their maximum length still holds)');

    const sweep = () => void recorder.sweep(config.RECORDING_STATE_TTL_MS).catch((error: unknown) => log.warn({ err: String(error) }, 'pcap sweep failed'));
    sweep();
    const sweeper = setInterval(sweep, 3_600_000);
    sweeper.unref();
    log.info(
      { node: config.MEDIA_NODE, rtpengine: rtpengine.description, up: rtpengine.up, dtmf: config.MEDIA_DTMF_LISTEN, sinkPort: sink.address().port },
      'media ready',
    );

    return {
      async stop() {
        // No new calls (draining began with the SIGTERM at the latest); the calls in progress may
        // end within the shutdown time (signaling drains the same way), and what is left is
        // detached: rtpengine keeps the calls, the next run of this instance takes them over.
        const deadline = Date.now() + Math.max(0, config.SHUTDOWN_TIMEOUT_MS - 3_000);
        while (live.count > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
        for (const sub of subscriptions.calls) sub.unsubscribe();
        clearInterval(sweeper);
        await live.detachAll();
        recorder.close();
        rtpengine.close();
        dtmf.close();
        sink.close();
      },
    };
  },
});
