/**
 * The storage conformance suite (docs/behaviour.md §6): one set of tests, run against every backend through
 * the real storage service over NATS. A backend is conformant when all of these pass.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isServiceError, request, StorageApi, SUBJECTS, type Mailbox, type MessageInfo } from '@sipvm/contracts';
import {
  lastMailboxEvent,
  lastTranscribedEvent,
  longWav,
  mailboxEvents,
  rawRequest,
  readAll,
  sha256Of,
  smallWav,
  stage,
  startStorageRig,
  type StorageRig,
} from './support.js';

export interface BackendUnderTest {
  name: string;
  /** Environment for the storage service, and a way to list every object the backend holds. */
  setup(): Promise<{ env: Record<string, string>; listAll(): Promise<string[]>; teardown(): Promise<void> }>;
}

let mailboxCounter = 0;

async function waitForCondition(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
const freshMailbox = (): Mailbox => ({ did: 'example.org', uid: `user${++mailboxCounter}-${Date.now()}` });

export function describeStorageConformance(backend: BackendUnderTest): void {
  describe(`storage conformance: ${backend.name}`, () => {
    let rig: StorageRig;
    let listAll: () => Promise<string[]>;
    let teardown: () => Promise<void>;

    before(async () => {
      const setup = await backend.setup();
      listAll = setup.listAll;
      teardown = setup.teardown;
      rig = await startStorageRig(setup.env);
    });
    after(async () => {
      await rig?.stop();
      await teardown?.();
    });

    const create = async (
      mailbox: Mailbox,
      extra: Partial<{ urgent: boolean; sender: string; seconds: number; idempotencyKey: string; maxMessages: number; recordedAt: string }> = {},
    ) => {
      const audio = await stage(rig.staging, smallWav(extra.seconds ?? 1, mailboxCounter));
      return request(rig.nc, StorageApi.createMessage, {
        mailbox,
        sender: extra.sender ?? 'sip:alice@example.org',
        recordedAt: extra.recordedAt ?? new Date().toISOString(),
        durationMs: (extra.seconds ?? 1) * 1000,
        codec: 'PCMU',
        urgent: extra.urgent ?? false,
        audio,
        ...(extra.idempotencyKey ? { idempotencyKey: extra.idempotencyKey } : {}),
        ...(extra.maxMessages !== undefined ? { maxMessages: extra.maxMessages } : {}),
      });
    };

    it('stores a message with its metadata, audio and counts', async () => {
      const mailbox = freshMailbox();
      const wav = smallWav(2, 7);
      const staged = await stage(rig.staging, wav);
      const recordedAt = '2026-11-23T10:11:12.345Z';
      const created = await request(rig.nc, StorageApi.createMessage, {
        mailbox,
        sender: 'sip:+4930123@carrier.example',
        recordedAt,
        durationMs: 2000,
        codec: 'PCMA',
        urgent: false,
        audio: staged,
      });
      assert.equal(created.created, true);
      assert.match(created.message.id, /^20261123T101112345Z-[0-9a-f]{12}$/);
      assert.deepEqual(created.counts, { new: 1, saved: 0, urgentNew: 0, urgentSaved: 0 });

      const { message } = await request(rig.nc, StorageApi.getMessage, { mailbox, id: created.message.id });
      assert.deepEqual(message, {
        id: created.message.id,
        mailbox,
        sender: 'sip:+4930123@carrier.example',
        recordedAt,
        durationMs: 2000,
        codec: 'PCMA',
        urgent: false,
        read: false,
        size: wav.length,
      });
      const audio = await readAll(rig.nc, { kind: 'message', mailbox, id: created.message.id });
      assert.ok(audio.equals(Buffer.from(wav)), 'audio read back differs from what was stored');

      const event = await lastMailboxEvent(rig.nc);
      assert.equal(event?.change, 'message-created');
      assert.equal(event?.messageId, created.message.id);
      assert.deepEqual(event?.counts, { new: 1, saved: 0, urgentNew: 0, urgentSaved: 0 });
    });

    it('round-trips a 30-minute message (about 29 MB) byte-identical', async () => {
      const mailbox = freshMailbox();
      const source = longWav(30 * 60);
      assert.ok(source.size > 28_000_000, `30 minutes is ${source.size} bytes`);
      const staged = await stage(rig.staging, source.chunks);
      assert.equal(staged.size, source.size);
      const created = await request(rig.nc, StorageApi.createMessage, {
        mailbox,
        sender: 'sip:long@example.org',
        recordedAt: new Date().toISOString(),
        durationMs: 30 * 60 * 1000,
        codec: 'PCMU',
        urgent: false,
        audio: staged,
      });
      assert.equal(created.message.size, source.size);
      const back = await sha256Of(rig.nc, { kind: 'message', mailbox, id: created.message.id });
      assert.equal(back.size, source.size);
      assert.equal(back.sha256, await source.sha256);
    });

    it('gives 50 concurrent creates into one mailbox 50 distinct messages and correct counts', async () => {
      const mailbox = freshMailbox();
      const recordedAt = new Date().toISOString(); // same millisecond for all: ids must still differ
      const results = await Promise.all(Array.from({ length: 50 }, () => create(mailbox, { recordedAt })));
      const ids = new Set(results.map((r) => r.message.id));
      assert.equal(ids.size, 50);
      const { messages } = await request(rig.nc, StorageApi.listMailbox, { mailbox });
      assert.deepEqual(new Set(messages.map((m) => m.id)), ids);
      const { counts } = await request(rig.nc, StorageApi.countMailbox, { mailbox });
      assert.deepEqual(counts, { new: 50, saved: 0, urgentNew: 0, urgentSaved: 0 });
    });

    it('moves a message from new to saved on mark read, in the counts and in the mailbox event', async () => {
      const mailbox = freshMailbox();
      const first = await create(mailbox);
      await create(mailbox, { urgent: true });
      const marked = await request(rig.nc, StorageApi.markMessage, { mailbox, id: first.message.id, read: true });
      assert.equal(marked.message.read, true);
      assert.deepEqual(marked.counts, { new: 1, saved: 1, urgentNew: 1, urgentSaved: 0 });
      const event = await lastMailboxEvent(rig.nc);
      assert.equal(event?.change, 'message-read');
      assert.deepEqual(event?.mailbox, mailbox);
      assert.deepEqual(event?.counts, { new: 1, saved: 1, urgentNew: 1, urgentSaved: 0 });

      const { counts } = await request(rig.nc, StorageApi.countMailbox, { mailbox });
      assert.deepEqual(counts, { new: 1, saved: 1, urgentNew: 1, urgentSaved: 0 });
      const { message } = await request(rig.nc, StorageApi.getMessage, { mailbox, id: first.message.id });
      assert.equal(message.read, true);

      const unmarked = await request(rig.nc, StorageApi.markMessage, { mailbox, id: first.message.id, read: false });
      assert.deepEqual(unmarked.counts, { new: 2, saved: 0, urgentNew: 1, urgentSaved: 0 });
      assert.equal((await lastMailboxEvent(rig.nc))?.change, 'message-unread');
    });

    it('publishes no event when nothing changed (read twice, delete twice)', async () => {
      const mailbox = freshMailbox();
      const { message } = await create(mailbox);
      await request(rig.nc, StorageApi.markMessage, { mailbox, id: message.id, read: true });
      const before = (await mailboxEvents(rig.nc)).filter((e) => e.mailbox.uid === mailbox.uid).length;
      await request(rig.nc, StorageApi.markMessage, { mailbox, id: message.id, read: true });
      const first = await request(rig.nc, StorageApi.deleteMessage, { mailbox, id: message.id });
      const second = await request(rig.nc, StorageApi.deleteMessage, { mailbox, id: message.id });
      assert.equal(first.deleted, true);
      assert.equal(second.deleted, false);
      assert.deepEqual(second.counts, { new: 0, saved: 0, urgentNew: 0, urgentSaved: 0 });
      const events = (await mailboxEvents(rig.nc)).filter((e) => e.mailbox.uid === mailbox.uid);
      assert.equal(events.length, before + 1, 'only the first delete is a change');
      assert.equal(events.at(-1)?.change, 'message-deleted');
    });

    it('lists newest first with sender, time, duration, read flag and size', async () => {
      const mailbox = freshMailbox();
      const older = await create(mailbox, { recordedAt: '2026-01-01T00:00:00.000Z', sender: 'sip:old@example.org', seconds: 1 });
      const newer = await create(mailbox, { recordedAt: '2026-06-01T00:00:00.000Z', sender: 'tel:+491701234567', seconds: 2 });
      await request(rig.nc, StorageApi.markMessage, { mailbox, id: older.message.id, read: true });
      const { messages, total } = await request(rig.nc, StorageApi.listMailbox, { mailbox });
      assert.equal(total, 2);
      assert.deepEqual(
        messages.map((m: MessageInfo) => [m.id, m.sender, m.durationMs, m.read, m.size]),
        [
          [newer.message.id, 'tel:+491701234567', 2000, false, newer.message.size],
          [older.message.id, 'sip:old@example.org', 1000, true, older.message.size],
        ],
      );
    });

    it('lists a large mailbox a page at a time, newest first', async () => {
      const mailbox = freshMailbox();
      const times = Array.from({ length: 7 }, (_, i) => `2026-02-0${i + 1}T00:00:00.000Z`);
      const ids = [];
      for (const recordedAt of times) ids.push((await create(mailbox, { recordedAt })).message.id);
      const newestFirst = [...ids].reverse();
      const pages = [];
      for (let offset = 0; offset < 7; offset += 3) {
        const page = await request(rig.nc, StorageApi.listMailbox, { mailbox, offset, limit: 3 });
        assert.equal(page.total, 7);
        pages.push(...page.messages.map((m: MessageInfo) => m.id));
      }
      assert.deepEqual(pages, newestFirst);
      await assert.rejects(request(rig.nc, StorageApi.listMailbox, { mailbox, limit: 5000 }), (e) => isServiceError(e, 'bad-request'));
    });

    it('keeps a transcript in the message, lists it only when asked, announces it and keeps it off MWI', async () => {
      const mailbox = freshMailbox();
      const { message } = await create(mailbox);
      const changesBefore = (await mailboxEvents(rig.nc)).length;
      const transcript = {
        status: 'done',
        text: 'Hello, this is Bob — call me back',
        language: 'en',
        engine: 'pocketsphinx',
        at: '2026-11-23T10:11:20.000Z',
      } as const;
      const set = await request(rig.nc, StorageApi.setTranscript, { mailbox, id: message.id, transcript });
      assert.deepEqual(set.message, { ...message, transcript });
      assert.deepEqual((await request(rig.nc, StorageApi.getMessage, { mailbox, id: message.id })).message.transcript, transcript);
      const lean = await request(rig.nc, StorageApi.listMailbox, { mailbox });
      assert.equal(lean.messages[0]?.transcript, undefined, 'a plain listing stays lean');
      const full = await request(rig.nc, StorageApi.listMailbox, { mailbox, limit: 50, transcripts: true });
      assert.deepEqual(full.messages[0]?.transcript, transcript);
      await assert.rejects(request(rig.nc, StorageApi.listMailbox, { mailbox, limit: 51, transcripts: true }), (e) => isServiceError(e, 'bad-request'));

      const announced = await lastTranscribedEvent(rig.nc);
      assert.deepEqual([announced?.messageId, announced?.status, announced?.mailbox], [message.id, 'done', mailbox]);
      assert.deepEqual(announced?.counts, { new: 1, saved: 0, urgentNew: 0, urgentSaved: 0 });
      assert.equal((await mailboxEvents(rig.nc)).length, changesBefore, 'no mailbox change (MWI) for a transcript');

      // Marked "no transcript" instead, it says so; the message is otherwise unchanged.
      const none = { status: 'none', reason: 'timed-out', at: '2026-11-23T10:12:00.000Z' } as const;
      assert.deepEqual((await request(rig.nc, StorageApi.setTranscript, { mailbox, id: message.id, transcript: none })).message, {
        ...message,
        transcript: none,
      });
      await request(rig.nc, StorageApi.deleteMessage, { mailbox, id: message.id });
      await assert.rejects(request(rig.nc, StorageApi.setTranscript, { mailbox, id: message.id, transcript }), (e) => isServiceError(e, 'mailbox-not-found'));
      assert.ok(!(await listAll()).some((key) => key.includes(message.id)), 'a transcript for a deleted message brings nothing back');
    });

    it('deletes a message with its audio; a deleted message is gone for good', async () => {
      const mailbox = freshMailbox();
      const kept = await create(mailbox);
      const gone = await create(mailbox);
      await request(rig.nc, StorageApi.deleteMessage, { mailbox, id: gone.message.id });
      await assert.rejects(request(rig.nc, StorageApi.getMessage, { mailbox, id: gone.message.id }), (e) => isServiceError(e, 'message-not-found'));
      await assert.rejects(readAll(rig.nc, { kind: 'message', mailbox, id: gone.message.id }), (e) => isServiceError(e, 'message-not-found'));
      const objects = await listAll();
      assert.ok(
        !objects.some((key) => key.includes(gone.message.id)),
        `objects of the deleted message remain: ${objects.filter((k) => k.includes(gone.message.id))}`,
      );
      assert.ok(objects.some((key) => key.includes(kept.message.id)));
    });

    it('tells mailbox-not-found from message-not-found', async () => {
      const empty = freshMailbox();
      const id = '20260101T000000000Z-000000000000';
      await assert.rejects(request(rig.nc, StorageApi.getMessage, { mailbox: empty, id }), (e) => isServiceError(e, 'mailbox-not-found'));
      const used = freshMailbox();
      await create(used);
      await assert.rejects(request(rig.nc, StorageApi.getMessage, { mailbox: used, id }), (e) => isServiceError(e, 'message-not-found'));
      await assert.rejects(request(rig.nc, StorageApi.markMessage, { mailbox: used, id, read: true }), (e) => isServiceError(e, 'message-not-found'));
      const { messages } = await request(rig.nc, StorageApi.listMailbox, { mailbox: empty });
      assert.deepEqual(messages, []);
    });

    it('stores a retried create once (idempotency key)', async () => {
      const mailbox = freshMailbox();
      const recordedAt = new Date().toISOString();
      const first = await create(mailbox, { idempotencyKey: 'rec-42', recordedAt });
      const again = await create(mailbox, { idempotencyKey: 'rec-42', recordedAt });
      assert.equal(first.created, true);
      assert.equal(again.created, false);
      assert.equal(again.message.id, first.message.id);
      const { counts } = await request(rig.nc, StorageApi.countMailbox, { mailbox });
      assert.equal(counts.new, 1);
    });

    it('refuses a create beyond the mailbox quota and keeps what is there', async () => {
      const mailbox = freshMailbox();
      await create(mailbox, { maxMessages: 2 });
      await create(mailbox, { maxMessages: 2 });
      await assert.rejects(create(mailbox, { maxMessages: 2 }), (e) => isServiceError(e, 'quota-exceeded'));
      const { messages } = await request(rig.nc, StorageApi.listMailbox, { mailbox });
      assert.equal(messages.length, 2);
      const audioObjects = (await listAll()).filter((k) => k.includes(`/${mailbox.uid}/audio/`));
      assert.equal(audioObjects.length, 2, 'the refused message left no audio behind');
    });

    it('stores an admitted message beyond the limit (the caller was let in) and tells the owner at the share and at the limit', async () => {
      const mailbox = freshMailbox();
      const notices: { kind: string; limit?: number; owner?: { email?: string } }[] = [];
      const sub = rig.nc.subscribe(SUBJECTS.mailbox.notice, { callback: (_e, msg) => void notices.push(msg.json()) });
      await rig.nc.flush();
      const owner = { user: 'alice', domain: 'example.org', email: 'alice@example.org', language: 'de' };
      for (let i = 0; i < 5; i++) {
        const audio = await stage(rig.staging, smallWav(1, i));
        await request(rig.nc, StorageApi.createMessage, {
          mailbox,
          sender: 'sip:bob@example.org',
          recordedAt: new Date().toISOString(),
          durationMs: 1000,
          codec: 'PCMU',
          audio,
          maxMessages: 4,
          admitted: true,
          quotaWarnPercent: 75,
          owner,
        });
      }
      const { counts } = await request(rig.nc, StorageApi.countMailbox, { mailbox });
      assert.equal(counts.new, 5, 'an admitted message is never dropped');
      await waitForCondition(() => notices.length >= 2);
      sub.unsubscribe();
      assert.deepEqual(
        notices.map((n) => [n.kind, n.limit, n.owner?.email]),
        [
          ['mailbox-almost-full', 4, 'alice@example.org'],
          ['mailbox-full', 4, 'alice@example.org'],
        ],
      );
    });

    it('forwards a message into another mailbox of the domain, with the introduction before it, counted and announced there', async () => {
      const from = freshMailbox();
      const to = freshMailbox();
      const original = smallWav(2, 3);
      const { message } = await request(rig.nc, StorageApi.createMessage, {
        mailbox: from,
        sender: 'sip:+4930@example.net',
        recordedAt: '2026-11-20T10:00:00.000Z',
        durationMs: 2000,
        codec: 'PCMA',
        urgent: true,
        audio: await stage(rig.staging, original),
      });
      const introduction = smallWav(1, 9);
      const forwarded = await request(rig.nc, StorageApi.forwardMessage, {
        mailbox: from,
        id: message.id,
        to,
        introduction: await stage(rig.staging, introduction),
      });
      assert.deepEqual(forwarded.counts, { new: 1, saved: 0, urgentNew: 1, urgentSaved: 0 });
      const copy = forwarded.message;
      assert.deepEqual(
        [copy.sender, copy.recordedAt, copy.codec, copy.urgent, copy.read, copy.forwardedFrom],
        ['sip:+4930@example.net', '2026-11-20T10:00:00.000Z', 'PCMA', true, false, from],
      );
      assert.equal(copy.durationMs, 3000, 'the introduction and the message');
      const audio = await readAll(rig.nc, { kind: 'message', mailbox: to, id: copy.id });
      assert.ok(
        audio.subarray(44).equals(Buffer.concat([Buffer.from(introduction).subarray(44), Buffer.from(original).subarray(44)])),
        'introduction, then the message',
      );
      assert.equal(audio.readUInt32LE(40), audio.length - 44, 'one WAV with the length of both');
      const event = await lastMailboxEvent(rig.nc);
      assert.deepEqual([event?.mailbox, event?.change, event?.messageId], [to, 'message-created', copy.id]);
      // The original stays; a copy to another domain or to itself is refused; a full mailbox refuses it.
      assert.equal((await request(rig.nc, StorageApi.countMailbox, { mailbox: from })).counts.new, 1);
      await assert.rejects(request(rig.nc, StorageApi.forwardMessage, { mailbox: from, id: message.id, to: { did: 'other.example', uid: to.uid } }), (e) =>
        isServiceError(e, 'bad-request'),
      );
      await assert.rejects(request(rig.nc, StorageApi.forwardMessage, { mailbox: from, id: message.id, to: from }), (e) => isServiceError(e, 'bad-request'));
      const third = freshMailbox();
      await create(third);
      await assert.rejects(request(rig.nc, StorageApi.forwardMessage, { mailbox: from, id: message.id, to: third, maxMessages: 1 }), (e) =>
        isServiceError(e, 'quota-exceeded'),
      );
    });

    it('pages new and saved messages, urgent ones first, after and before a place, the messages heard in the session still new', async () => {
      const mailbox = freshMailbox();
      const at = (minute: number) => new Date(Date.UTC(2026, 10, 20, 10, minute)).toISOString();
      const ids: string[] = [];
      for (let minute = 1; minute <= 6; minute++) ids.push((await create(mailbox, { recordedAt: at(minute), urgent: minute === 2 })).message.id);
      await request(rig.nc, StorageApi.markMessage, { mailbox, id: ids[0]!, read: true });
      await request(rig.nc, StorageApi.markMessage, { mailbox, id: ids[4]!, read: true }); // heard in the session: still new for it
      const heard = [ids[4]!];
      const list = (query: Record<string, unknown>) => request(rig.nc, StorageApi.listMailbox, { mailbox, limit: 2, ...query });
      const fresh = await list({ filter: 'new', heard, urgentFirst: true });
      assert.equal(fresh.total, 5);
      assert.deepEqual(
        fresh.messages.map((m) => m.id),
        [ids[1], ids[5]],
        'the urgent one first, then newest first',
      );
      const next = await list({ filter: 'new', heard, urgentFirst: true, after: { id: ids[5]!, urgent: false } });
      assert.deepEqual(
        next.messages.map((m) => m.id),
        [ids[4], ids[3]],
      );
      assert.equal(next.messages[0]!.read, false, 'reported as it was when the session began');
      const back = await list({ filter: 'new', heard, urgentFirst: true, before: { id: ids[4]!, urgent: false } });
      assert.deepEqual(
        back.messages.map((m) => m.id),
        [ids[1], ids[5]],
      );
      const last = await list({ filter: 'new', heard, urgentFirst: true, fromEnd: true });
      assert.deepEqual(
        last.messages.map((m) => m.id),
        [ids[3], ids[2]],
      );
      const saved = await list({ filter: 'saved', heard });
      assert.deepEqual(
        saved.messages.map((m) => m.id),
        [ids[0]],
      );
      const oldest = await list({ filter: 'saved', order: 'oldest-first' });
      assert.deepEqual(
        oldest.messages.map((m) => m.id),
        [ids[0], ids[4]],
        'without the session: as it is now',
      );
    });

    it('resolves the greeting callers hear: temporary, the type asked for, vm, the name, the default', async () => {
      const mailbox = freshMailbox();
      const put = async (type: string, until?: string) =>
        request(rig.nc, StorageApi.putGreeting, { mailbox, type, audio: await stage(rig.staging, smallWav(1)), ...(until ? { until } : {}) });
      const heard = async (type: string) => {
        const { greeting } = await request(rig.nc, StorageApi.resolveGreeting, { mailbox, type });
        return greeting.kind === 'greeting' ? greeting.type : greeting.kind;
      };
      assert.equal(await heard('busy'), 'default');
      await put('name');
      assert.equal(await heard('busy'), 'name');
      await put('vm');
      assert.equal(await heard('busy'), 'vm', "busy falls back to the subscriber's own vm greeting");
      await put('busy');
      assert.equal(await heard('busy'), 'busy');
      assert.equal(await heard('unavail'), 'vm');
      await assert.rejects(put('temp'), (e) => isServiceError(e, 'bad-request'), 'a temporary greeting needs its end');
      await assert.rejects(put('temp', new Date(Date.now() - 1000).toISOString()), (e) => isServiceError(e, 'bad-request'), 'an end in the past');
      await assert.rejects(
        put('busy', new Date(Date.now() + 60_000).toISOString()),
        (e) => isServiceError(e, 'bad-request'),
        'only the temporary greeting ends',
      );
      const until = new Date(Date.now() + 2_000).toISOString();
      await put('temp', until);
      assert.equal(await heard('busy'), 'temp', 'the temporary greeting before all others');
      assert.equal((await request(rig.nc, StorageApi.resolveGreeting, { mailbox, type: 'vm' })).validUntil, until);
      assert.equal((await request(rig.nc, StorageApi.getGreeting, { mailbox, type: 'temp' })).greeting.until, until);
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      assert.equal(await heard('busy'), 'busy', 'once it ended, the others again');
      await request(rig.nc, StorageApi.deleteGreeting, { mailbox, type: 'temp' });
      assert.ok(!(await listAll()).some((k) => k.includes(`/${mailbox.uid}/greetings/temp`)), 'the temporary greeting and its end are gone');
    });

    it('puts, gets, replaces and deletes greetings per type', async () => {
      const mailbox = freshMailbox();
      await assert.rejects(request(rig.nc, StorageApi.getGreeting, { mailbox, type: 'busy' }), (e) => isServiceError(e, 'greeting-not-found'));
      const first = smallWav(1, 1);
      const put = await request(rig.nc, StorageApi.putGreeting, { mailbox, type: 'busy', audio: await stage(rig.staging, first) });
      assert.equal(put.greeting.size, first.length);
      const second = smallWav(2, 2);
      await request(rig.nc, StorageApi.putGreeting, { mailbox, type: 'busy', audio: await stage(rig.staging, second) });
      assert.ok((await readAll(rig.nc, { kind: 'greeting', mailbox, type: 'busy' })).equals(Buffer.from(second)));
      await assert.rejects(readAll(rig.nc, { kind: 'greeting', mailbox, type: 'vm' }), (e) => isServiceError(e, 'greeting-not-found'));
      assert.deepEqual(await request(rig.nc, StorageApi.deleteGreeting, { mailbox, type: 'busy' }), { deleted: true });
      assert.deepEqual(await request(rig.nc, StorageApi.deleteGreeting, { mailbox, type: 'busy' }), { deleted: false });
      const { counts } = await request(rig.nc, StorageApi.countMailbox, { mailbox });
      assert.deepEqual(counts, { new: 0, saved: 0, urgentNew: 0, urgentSaved: 0 }, 'greetings are not messages');
    });

    it('refuses hostile ids and names with bad-request and writes nothing anywhere', async () => {
      const before = await listAll();
      const hostile = ['..', '../etc', 'a/b', '/abs', 'x\u0000y', 'line\r\nbreak', 'tab\there', 'a'.repeat(300), '', '.hidden', 'a..b'];
      const staged = await stage(rig.staging, smallWav());
      const good = { did: 'example.org', uid: 'victim' };
      const okId = '20260101T000000000Z-000000000000';
      const attempts: [string, unknown][] = [];
      for (const bad of hostile) {
        for (const mailbox of [
          { ...good, did: bad },
          { ...good, uid: bad },
        ]) {
          attempts.push(
            [SUBJECTS.storage.messageCreate, { mailbox, sender: 's', recordedAt: new Date().toISOString(), durationMs: 1, codec: 'PCMU', audio: staged }],
            [SUBJECTS.storage.messageDelete, { mailbox, id: okId }],
            [SUBJECTS.storage.messageMark, { mailbox, id: okId, read: true }],
            [SUBJECTS.storage.mailboxList, { mailbox }],
            [SUBJECTS.storage.mailboxCount, { mailbox }],
            [SUBJECTS.storage.greetingPut, { mailbox, type: 'vm', audio: staged }],
          );
        }
        attempts.push(
          [SUBJECTS.storage.greetingPut, { mailbox: good, type: bad, audio: staged }],
          [SUBJECTS.storage.greetingDelete, { mailbox: good, type: bad }],
          [SUBJECTS.storage.messageDelete, { mailbox: good, id: bad }],
          [SUBJECTS.storage.messageGet, { mailbox: good, id: bad }],
        );
      }
      attempts.push(
        [
          SUBJECTS.storage.messageCreate,
          { mailbox: good, sender: 'evil\r\nBcc: x@y', recordedAt: new Date().toISOString(), durationMs: 1, codec: 'PCMU', audio: staged },
        ],
        [SUBJECTS.storage.messageCreate, { mailbox: good, sender: 's', recordedAt: 'yesterday', durationMs: 1, codec: 'PCMU', audio: staged }],
        [SUBJECTS.storage.messageCreate, { mailbox: good, sender: 's', recordedAt: new Date().toISOString(), durationMs: 1, codec: '../x', audio: staged }],
        [
          SUBJECTS.storage.messageCreate,
          { mailbox: good, sender: 's', recordedAt: new Date().toISOString(), durationMs: 1, codec: 'PCMU', audio: { name: '../staged', size: 1 } },
        ],
        [SUBJECTS.storage.messageCreate, 'not an object'],
      );
      for (const [subject, payload] of attempts) {
        const reply = await rawRequest(rig.nc, subject, payload);
        assert.equal(reply.ok, false, `${subject} accepted ${JSON.stringify(payload).slice(0, 120)}`);
        assert.equal(reply.error?.kind, 'bad-request', `${subject}: ${reply.error?.message}`);
      }
      // Not JSON at all.
      const garbage = await rig.nc.request(SUBJECTS.storage.mailboxCount, new Uint8Array([0xff, 0x00, 0x7b]), { timeout: 5_000 });
      assert.match(new TextDecoder().decode(garbage.data), /"kind":"bad-request"/);
      assert.deepEqual(await listAll(), before, 'a refused request wrote something');
      assert.equal((await rig.service.readyz()).status, 200, 'the service stays up and ready');
    });

    it('leaves no half message visible when the service dies mid-write', async () => {
      const mailbox = freshMailbox();
      const source = longWav(30 * 60);
      const staged = await stage(rig.staging, source.chunks);
      const pending = request(
        rig.nc,
        StorageApi.createMessage,
        { mailbox, sender: 'sip:crash@example.org', recordedAt: new Date().toISOString(), durationMs: 1, codec: 'PCMU', audio: staged },
        { timeoutMs: 5_000 },
      ).catch((error: unknown) => error);
      await new Promise((resolve) => setTimeout(resolve, 150)); // the ingest is under way
      await rig.service.kill();
      const outcome = await pending;
      await rig.restartService();
      const { messages } = await request(rig.nc, StorageApi.listMailbox, { mailbox });
      // The reply may be lost even when the write finished just before the kill; what must never
      // happen is a visible message that is not whole.
      if (!isServiceError(outcome)) assert.equal(messages.length, 1, 'a confirmed create must be visible');
      assert.ok(messages.length <= 1);
      for (const message of messages) {
        assert.equal((await sha256Of(rig.nc, { kind: 'message', mailbox, id: message.id })).sha256, await source.sha256, 'half a message is visible');
      }
    });
  });
}
