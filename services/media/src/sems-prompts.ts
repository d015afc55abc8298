/**
 * SEMS's own prompt folders, played as they are (docs/migrating-from-sems.md): which SEMS file
 * stands for a platform prompt, and where SEMS looked for it.
 *
 *   voicemail   announce_path (SEMS_ANNOUNCE_PATH): the default greeting `default_announce`
 *               (SEMS_DEFAULT_ANNOUNCE), looked up as AnswerMachine.cpp does:
 *               <did>/<lng>/ → <did>/ → <lng>/ → the folder itself
 *   voicebox    prompt_base_path (SEMS_VOICEBOX_PROMPT_PATH): the prompt set per domain and
 *               language, looked up as Voicebox.cpp's findPrompts does (<domain>/<lng>/ →
 *               <domain>/ → <lng>/ → the folder itself), with its count pieces 1…19, 20…90, x1…x9
 *   annrecorder the folder of annrecorder.conf's prompt files (SEMS_ANNRECORDER_PROMPT_PATH),
 *               per domain and language the same way
 *
 * A language is looked for under each of its folder names (contracts' languages.ts), so `lng=en`
 * finds a SEMS set in `english/`. Prompts SEMS never had (help, envelope, …) are not mapped: the
 * platform's own play for them.
 */
import { join } from 'node:path';
import type { DigitOrder } from '@sipvm/contracts';

export interface SemsPromptDirs {
  /** SEMS voicemail's (and annrecorder's) announce_path. */
  announcePath: string | undefined;
  /** SEMS voicemail's default_announce: the default greeting's file name. */
  defaultAnnounce: string;
  /** SEMS voicebox's prompt_base_path. */
  voiceboxPath: string | undefined;
  /** The folder of SEMS annrecorder's prompts (welcome.wav, your_prompt.wav, …). */
  annrecorderPath: string | undefined;
}

/** Platform prompt → SEMS voicebox file (VoiceboxDialog.cpp's names). */
const VOICEBOX_FILES: Readonly<Record<string, string>> = {
  enter_pin: 'pin_prompt',
  you_have: 'you_have',
  one_new_message: 'new_msg',
  new_messages: 'new_msgs',
  one_saved_message: 'saved_msg',
  saved_messages: 'saved_msgs',
  and: 'and',
  no_messages: 'no_msg',
  message_menu: 'msg_menu',
  message_saved: 'msg_saved',
  message_deleted: 'msg_deleted',
  first_new_message: 'first_new_msg',
  next_new_message: 'next_new_msg',
  first_saved_message: 'first_saved_msg',
  next_saved_message: 'next_saved_msg',
  no_more_messages: 'no_more_msg',
  goodbye: 'bye',
};

/** Platform prompt → SEMS annrecorder file (AnnRecorder.h's names). */
const ANNRECORDER_FILES: Readonly<Record<string, string>> = {
  ann_welcome: 'welcome',
  ann_current_greeting: 'your_prompt',
  ann_default_greeting: 'your_prompt',
  ann_press_any_key: 'to_record',
  ann_confirm: 'confirm',
  ann_saved: 'greeting_set',
  goodbye: 'bye',
};

/** The platform's default greetings: SEMS played its default_announce for both. */
const DEFAULT_GREETINGS: ReadonlySet<string> = new Set(['default_greeting', 'default_greeting_ann']);

/**
 * Every file that could stand for prompt `name`, in SEMS's order: for the domain and then without
 * it, each of `languages`' folders and then (with `neutral`) no language folder at all.
 */
export function semsPromptCandidates(dirs: SemsPromptDirs, name: string, languages: readonly string[], domain: string | undefined, neutral: boolean): string[] {
  const sets: [string | undefined, string | undefined][] = [
    [dirs.announcePath, DEFAULT_GREETINGS.has(name) ? dirs.defaultAnnounce : undefined],
    [dirs.voiceboxPath, fileOf(VOICEBOX_FILES, name)],
    [dirs.annrecorderPath, fileOf(ANNRECORDER_FILES, name)],
  ];
  return sets.flatMap(([base, file]) => (base === undefined || file === undefined ? [] : inSemsOrder(base, file, languages, domain, neutral)));
}

/**
 * The SEMS voicebox pieces of a count, as VoiceboxDialog::enqueueCount says it: up to 20 and whole
 * tens as one file, others as tens and `x<unit>` in the language's digit order. Undefined beyond
 * 99, which SEMS could not say.
 */
export function semsNumberPieces(value: number, order: DigitOrder): string[] | undefined {
  if (!Number.isInteger(value) || value < 0 || value > 99) return undefined;
  if (value <= 20 || value % 10 === 0) return [String(value)];
  const tens = String(value - (value % 10));
  const unit = `x${value % 10}`;
  return order === 'right' ? [tens, unit] : [unit, tens];
}

/** The folders of SEMS's voicebox set a count may come from, best first (no domain: counts have none). */
export function semsNumberFolders(dirs: SemsPromptDirs, languages: readonly string[]): string[] {
  if (dirs.voiceboxPath === undefined) return [];
  const base = dirs.voiceboxPath;
  return [...languages.map((language) => join(base, language)), base];
}

function inSemsOrder(base: string, file: string, languages: readonly string[], domain: string | undefined, neutral: boolean): string[] {
  const folders = (root: string) => [...languages.map((language) => join(root, language)), ...(neutral ? [root] : [])];
  return [...(domain === undefined ? [] : folders(join(base, domain))), ...folders(base)].map((folder) => join(folder, file));
}

function fileOf(files: Readonly<Record<string, string>>, name: string): string | undefined {
  const file = files[name];
  return file === undefined ? undefined : `${file}.wav`;
}
