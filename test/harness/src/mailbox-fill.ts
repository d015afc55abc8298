/**
 * Fills a mailbox of the local storage backend with many messages at once, by writing storage's
 * layout (services/storage/src/layout.ts) straight into its folder: a mailbox of thousands of
 * messages in seconds, where storing each through the API would take minutes. For tests and
 * benchmarks of large mailboxes only; storage counts such a mailbox afresh when first asked.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toneWav } from './wav-fixtures.js';

export interface FillOptions {
  /** Messages in all; every `readEvery`-th one is saved (heard), the rest new. */
  count: number;
  readEvery?: number;
  /** The newest message's time; the others one minute apart before it. */
  newest?: Date;
  /** Seconds of audio per message (a tone). */
  seconds?: number;
}

export async function fillMailbox(storageDir: string, mailbox: { did: string; uid: string }, options: FillOptions): Promise<string[]> {
  const root = join(storageDir, 'mailboxes', mailbox.did, mailbox.uid);
  for (const folder of ['messages', 'audio', 'read']) await mkdir(join(root, folder), { recursive: true });
  const wav = toneWav(440, (options.seconds ?? 0.5) * 1000);
  const newest = (options.newest ?? new Date()).getTime();
  const ids: string[] = [];
  const writes: Promise<void>[] = [];
  for (let i = 0; i < options.count; i++) {
    const recordedAt = new Date(newest - i * 60_000);
    const id = `${recordedAt.toISOString().replace(/[-:.]/g, '')}-${i.toString(16).padStart(12, '0')}`;
    ids.push(id);
    const meta = {
      version: 1,
      id,
      sender: `sip:+49301${String(i).padStart(6, '0')}@caller.example`,
      recordedAt: recordedAt.toISOString(),
      durationMs: (options.seconds ?? 0.5) * 1000,
      codec: 'PCMU',
      urgent: false,
      size: wav.length,
    };
    writes.push(
      writeFile(join(root, 'audio', `${id}.wav`), wav).then(async () => {
        if (options.readEvery && i % options.readEvery === 0) await writeFile(join(root, 'read', id), '');
        await writeFile(join(root, 'messages', `${id}.json`), JSON.stringify(meta));
      }),
    );
    if (writes.length >= 64) await Promise.all(writes.splice(0));
  }
  await Promise.all(writes);
  return ids;
}
