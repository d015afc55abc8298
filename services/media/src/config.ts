/** Environment variables of the media service (on top of the common ones of every service). */
import { join } from 'node:path';
import { z } from 'zod';
import { LanguageSchema, parseDigitOrders } from '@sipvm/contracts';
import { env, mediaNodeShape, packageRoot } from '@sipvm/service';

/** Where built prompts go by default: services/media/prompts/build (not committed). */
export const DEFAULT_PROMPTS_DIR = join(packageRoot(import.meta.url), 'prompts', 'build');

const hostPort = () =>
  z.string().transform((value, ctx) => {
    const match = /^(.+):(\d{1,5})$/.exec(value.trim());
    const port = Number(match?.[2]);
    if (!match || port > 65535) {
      ctx.addIssue({ code: 'custom', message: 'must be host:port, e.g. 127.0.0.1:22222' });
      return z.NEVER;
    }
    return { host: match[1]!, port };
  });

export const mediaConfig = {
  ...mediaNodeShape,
  /** rtpengine's ng control address (UDP). */
  RTPENGINE_NG: hostPort().default({ host: '127.0.0.1', port: 22222 }),
  /** How long one ng command may take before rtpengine counts as down. */
  RTPENGINE_TIMEOUT_MS: env.integer(100, 60_000).default(1_500),
  /** Interval of the background ping that tells whether rtpengine is up. */
  RTPENGINE_PROBE_INTERVAL_MS: env.integer(100, 60_000).default(1_000),
  /** rtpengine's `recording-dir` (it writes pcaps/ below it); shared with rtpengine. */
  RTPENGINE_RECORDING_DIR: env.string().default('/var/spool/rtpengine'),
  /** Where media puts audio for rtpengine to play (fetched greetings/messages, composed prompts); shared with rtpengine. */
  MEDIA_PLAY_DIR: env.string().default('/var/tmp/sipvm-media'),
  /**
   * Audio that plays the same for every call (prompts, the beep, a mailbox's greeting of one
   * version) is kept in MEDIA_PLAY_DIR/kept up to this many MiB, least recently played out first;
   * 0 writes a file for every playback.
   */
  MEDIA_PLAY_CACHE_MB: env.integer(0, 65_536).default(64),
  /** Operators' new prompt recordings are noticed within this time (prompt lookups are kept that long). */
  PROMPTS_LOOKUP_TTL_MS: env.integer(0, 3_600_000).default(30_000),
  /** Where rtpengine sends DTMF reports (its `dtmf-log-dest`): media listens here (UDP). */
  MEDIA_DTMF_LISTEN: hostPort().default({ host: '127.0.0.1', port: 22223 }),
  /** Address of the discard socket that is the other leg of every call (rtpengine sends caller audio there). */
  MEDIA_SINK_HOST: env.string().default('127.0.0.1'),
  /** Detect in-band DTMF too (rtpengine `block DTMF` with `detect DTMF`). */
  MEDIA_INBAND_DTMF: env.boolean().default(false),
  /**
   * RTP to the caller for the whole call: silence while no prompt plays (while the caller speaks
   * their message, while voicebox waits for a key), so that no RTP inactivity timer of the phone,
   * an SBC or a NAT on the way ends the call. false: only prompts are sent (less CPU in rtpengine).
   */
  MEDIA_SILENCE_TO_CALLER: env.boolean().default(true),
  /** Built platform prompts (<dir>/<lang>/<name>.wav); built at start when missing or outdated. */
  PROMPTS_DIR: env.string().default(DEFAULT_PROMPTS_DIR),
  /** Operators' recordings: <dir>/<domain>/<lang>/<name>.wav and <dir>/<lang>/<name>.wav win over built ones. */
  PROMPTS_OVERRIDE_DIR: env.string().optional(),
  /** Language used when a prompt does not exist in the requested one. */
  PROMPTS_DEFAULT_LANGUAGE: LanguageSchema.default('en'),
  /**
   * Where the units go in numbers, per language, over the languages' own (German, Dutch, Danish
   * units first): `de=left,fr=right`, or SEMS voicebox.conf's `languages=` value as it is.
   */
  PROMPTS_DIGIT_ORDER: z
    .string()
    .transform((value, ctx) => {
      const { orders, problems } = parseDigitOrders(value);
      for (const problem of problems) ctx.addIssue({ code: 'custom', message: problem });
      return orders;
    })
    .optional(),
  /** SEMS voicemail's announce_path, played as it is: its default greetings per domain and language. */
  SEMS_ANNOUNCE_PATH: env.string().optional(),
  /** SEMS voicemail's default_announce: the default greeting's file name in SEMS_ANNOUNCE_PATH. */
  SEMS_DEFAULT_ANNOUNCE: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*\.wav$/, 'must be a file name such as default_en.wav')
    .default('default_en.wav'),
  /** SEMS voicebox's prompt_base_path, played as it is: its prompt sets per domain and language. */
  SEMS_VOICEBOX_PROMPT_PATH: env.string().optional(),
  /** The folder of SEMS annrecorder's prompts (welcome.wav, your_prompt.wav, …), played as they are. */
  SEMS_ANNRECORDER_PROMPT_PATH: env.string().optional(),
  /** Build missing prompts at start with espeak-ng and sox (false: a missing prompt set is a start-up error). */
  PROMPTS_BUILD: env.boolean().default(true),
  /** How long a recording's state is kept (so a stop after a restart still finds it). */
  RECORDING_STATE_TTL_MS: env.integer(60_000).default(6 * 3_600_000),
  /** How often recordings that end on silence are listened to (their pcaps read as they grow). */
  MEDIA_SILENCE_POLL_MS: env.integer(50, 5_000).default(250),
  /** Frequency and length of the beep. */
  BEEP_HZ: env.integer(100, 3_900).default(880),
  BEEP_MS: env.integer(50, 2_000).default(250),
};
