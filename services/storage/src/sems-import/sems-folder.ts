/**
 * A SEMS msg_storage folder (its `storage_dir`), read by SEMS's own rules:
 *
 *   <storage_dir>/<did>/<uid>/<unix time>+<sender>.<ext>   a message (voicemail's saveBox,
 *                                                          apps/voicemail/AnswerMachine.cpp)
 *   <storage_dir>/<did>-prompts/<uid>/<typ>.wav            a personal greeting (annrecorder,
 *                                                          apps/annrecorder/AnnRecorder.cpp)
 *
 * A message is saved (heard) when its access time differs from its modification time, to the
 * second: msg_markread sets the access time one second after the modification time, and
 * userdir_open, which SEMS's voicebox and mwi count by, calls every other message new
 * (apps/msg_storage/MsgStorage.cpp). Names starting with "." are not SEMS's, and an empty file is
 * no message (the voicebox skips it). Everything here only looks: times are taken before any file
 * is read, so reading cannot change what SEMS would call new.
 *
 * File names are bytes, not text: a sender's display name from a From header may be Latin-1.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { GreetingTypeSchema, MailboxSchema, SENDER_MAX, type GreetingType, type Mailbox } from '@sipvm/contracts';
import { utf8OrLatin1 } from '@sipvm/service';

/** SEMS's suffix of the msg_storage "domain" that holds a domain's greetings (DOMAIN_PROMPT_SUFFIX). */
const GREETINGS_SUFFIX = '-prompts';

export interface SemsFile {
  /** Where it is, as bytes (names need not be UTF-8). */
  path: Buffer;
  /** Its path inside the SEMS folder, readable, for reports. */
  name: string;
  size: number;
  atimeMs: number;
  mtimeMs: number;
  /** The file name's extension, lower case (SEMS's rec_file_ext: wav, or mp3). */
  extension: string;
}

export interface SemsMessage extends SemsFile {
  recordedAt: Date;
  sender: string;
  saved: boolean;
}

export interface SemsGreeting extends SemsFile {
  type: GreetingType;
}

export interface SemsMailbox {
  mailbox: Mailbox;
  /** Oldest first, so a mailbox fills in the order SEMS filled it. */
  messages: SemsMessage[];
  greetings: SemsGreeting[];
}

export interface Skipped {
  name: string;
  reason: string;
}

export interface SemsFolder {
  mailboxes: SemsMailbox[];
  skipped: Skipped[];
}

/** Every mailbox, message and greeting in a SEMS storage_dir, and what is not one, with why. */
export async function readSemsFolder(root: string): Promise<SemsFolder> {
  const mailboxes = new Map<string, SemsMailbox>();
  const skipped: Skipped[] = [];
  for (const domainEntry of await readdir(root, { withFileTypes: true })) {
    const domainName = domainEntry.name;
    if (domainName.startsWith('.')) continue;
    if (!domainEntry.isDirectory()) {
      skipped.push({ name: domainName, reason: 'not a domain folder' });
      continue;
    }
    const greetings = domainName.endsWith(GREETINGS_SUFFIX) && domainName.length > GREETINGS_SUFFIX.length;
    const did = greetings ? domainName.slice(0, -GREETINGS_SUFFIX.length) : domainName;
    const users = await readdir(join(root, domainName), { withFileTypes: true }).catch(unreadable(`${domainName}/`, skipped, []));
    for (const userEntry of users) {
      const uid = userEntry.name;
      const where = `${domainName}/${uid}`;
      if (uid.startsWith('.')) continue;
      if (!userEntry.isDirectory()) {
        skipped.push({ name: where, reason: 'not a mailbox folder' });
        continue;
      }
      const parsed = MailboxSchema.safeParse({ did, uid });
      if (!parsed.success) {
        skipped.push({ name: `${where}/`, reason: `not a mailbox the platform can hold (${parsed.error.issues[0]?.message ?? 'bad id'})` });
        continue;
      }
      const mailbox = parsed.data;
      const key = `${mailbox.did}/${mailbox.uid}`;
      const entry = mailboxes.get(key) ?? { mailbox, messages: [], greetings: [] };
      mailboxes.set(key, entry);
      for (const file of await filesIn(Buffer.from(join(root, domainName, uid)), where, skipped)) {
        if (greetings) addGreeting(entry, file, skipped);
        else addMessage(entry, file, skipped);
      }
    }
  }
  const all = [...mailboxes.values()].filter((m) => m.messages.length + m.greetings.length > 0);
  for (const { messages } of all) messages.sort((a, b) => a.recordedAt.getTime() - b.recordedAt.getTime() || a.name.localeCompare(b.name));
  return { mailboxes: all.sort((a, b) => `${a.mailbox.did}/${a.mailbox.uid}`.localeCompare(`${b.mailbox.did}/${b.mailbox.uid}`)), skipped };
}

/** The files of a mailbox folder with their sizes and times, taken before anything is read. */
async function filesIn(dir: Buffer, where: string, skipped: Skipped[]): Promise<{ file: SemsFile; fileName: string }[]> {
  const files: { file: SemsFile; fileName: string }[] = [];
  for (const raw of await readdir(dir, { encoding: 'buffer' }).catch(unreadable(`${where}/`, skipped, []))) {
    const fileName = utf8OrLatin1(raw);
    if (fileName.startsWith('.')) continue;
    const path = Buffer.concat([dir, Buffer.from('/'), raw]);
    const name = `${where}/${fileName}`;
    const stats = await stat(path).catch(unreadable(name, skipped, undefined));
    if (stats === undefined) continue;
    if (!stats.isFile()) {
      skipped.push({ name, reason: 'not a file' });
      continue;
    }
    const extension = /\.([A-Za-z0-9]+)$/.exec(fileName)?.[1]?.toLowerCase() ?? '';
    files.push({ fileName, file: { path, name, size: stats.size, atimeMs: stats.atimeMs, mtimeMs: stats.mtimeMs, extension } });
  }
  return files;
}

function addMessage(mailbox: SemsMailbox, { file, fileName }: { file: SemsFile; fileName: string }, skipped: Skipped[]): void {
  const parsed = parseMessageName(fileName);
  if (!parsed) return void skipped.push({ name: file.name, reason: 'not a SEMS message name (<unix time>+<sender>.<ext>)' });
  if (file.size === 0) return void skipped.push({ name: file.name, reason: "empty (SEMS's voicebox never played it)" });
  mailbox.messages.push({ ...file, recordedAt: parsed.recordedAt, sender: parsed.sender, saved: savedBySems(file) });
}

function addGreeting(mailbox: SemsMailbox, { file, fileName }: { file: SemsFile; fileName: string }, skipped: Skipped[]): void {
  const type = GreetingTypeSchema.safeParse(fileName.replace(/\.wav$/, ''));
  if (file.extension !== 'wav' || !type.success) return void skipped.push({ name: file.name, reason: 'not a greeting (<type>.wav, type in lower case)' });
  if (file.size === 0) return void skipped.push({ name: file.name, reason: 'empty' });
  mailbox.greetings.push({ ...file, type: type.data });
}

/** A folder or file that cannot be read is reported, and the rest of the folder still read. */
function unreadable<T>(name: string, skipped: Skipped[], instead: T): (error: NodeJS.ErrnoException) => T {
  return (error) => {
    skipped.push({ name, reason: `cannot be read (${error.code ?? error.message})` });
    return instead;
  };
}

/** SEMS's userdir_open: new while the access time equals the modification time (in whole seconds). */
export function savedBySems(times: { atimeMs: number; mtimeMs: number }): boolean {
  return Math.floor(times.atimeMs / 1000) !== Math.floor(times.mtimeMs / 1000);
}

/**
 * `<unix time>+<sender>.<ext>` (AnswerMachineDialog::saveBox). The sender is what SEMS had: the
 * P-App-Param `snd`, or the whole From header, of which the URI in `<…>` is kept (the platform
 * stores the From URI, docs/behaviour.md §1); control characters become "?".
 */
export function parseMessageName(fileName: string): { recordedAt: Date; sender: string } | undefined {
  const match = /^(\d{1,12})\+(.*)\.[A-Za-z0-9]+$/s.exec(fileName);
  if (!match) return undefined;
  const seconds = Number(match[1]);
  const raw = match[2] ?? '';
  const uri = /<([^<>]*)>/.exec(raw)?.[1] ?? raw;
  const sender = uri
    .trim()
    // eslint-disable-next-line no-control-regex -- control characters are what is replaced
    .replace(/[\x00-\x1f\x7f]/g, '?')
    .slice(0, SENDER_MAX);
  return { recordedAt: new Date(seconds * 1000), sender };
}
