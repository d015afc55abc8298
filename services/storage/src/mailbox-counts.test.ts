/**
 * Mailbox counts kept as they change (mailbox-counts.ts), against the real storage service on a
 * real nats-server: two storage instances sharing one mailbox keep them exact, and where the kept
 * counts and the mailbox part (a lost entry, a deposit done again after a crash before it was
 * counted), the mailbox is counted afresh; a change and another instance's listing that cross
 * count the change once.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KV } from '@nats-io/kv';
import { BUCKETS, openKv, request, StorageApi, type Mailbox } from '@sipvm/contracts';
import { startService, tempDir, type RunningServiceProcess, type TempDir } from '@sipvm/harness';
import { smallWav, stage, startStorageRig, type StorageRig } from '../test/support.js';
import { MailboxCountKeeper } from './mailbox-counts.js';

describe('mailbox counts', () => {
  let rig: StorageRig;
  let second: RunningServiceProcess;
  let dir: TempDir;
  let kv: KV;
  let n = 0;
  const mailbox = (): Mailbox => ({ did: 'counts.example.org', uid: `user-${process.pid}-${++n}` });
  const keyOf = (m: Mailbox) => Buffer.from(`${m.did}/${m.uid}`).toString('base64url');
  const deposit = async (m: Mailbox, options: { key?: string; urgent?: boolean; recordedAt?: string } = {}) =>
    request(rig.nc, StorageApi.createMessage, {
      mailbox: m,
      sender: 'sip:bob@example.org',
      recordedAt: options.recordedAt ?? new Date().toISOString(),
      durationMs: 1_000,
      codec: 'PCMU',
      urgent: options.urgent ?? false,
      audio: await stage(rig.staging, smallWav()),
      ...(options.key ? { idempotencyKey: options.key } : {}),
    });
  const count = async (m: Mailbox) => (await request(rig.nc, StorageApi.countMailbox, { mailbox: m })).counts;

  before(async () => {
    dir = await tempDir('storage-counts');
    const env = { STORAGE_BACKEND: 'local', STORAGE_DIR: dir.path };
    rig = await startStorageRig(env);
    // A second instance on the same folder and NATS: requests go to either (queue group).
    second = await startService('storage', { NATS_URL: rig.nats.url, STORAGE_HEALTH_INTERVAL_MS: '500', ...env });
    kv = await openKv(rig.nc, BUCKETS.mailboxCounts, { history: 1 });
  });
  after(async () => {
    await second?.stop();
    await rig?.stop();
    await dir?.remove();
  });

  it('two instances depositing into one mailbox at once keep its counts exact', async () => {
    const m = mailbox();
    await Promise.all(Array.from({ length: 40 }, (_, i) => deposit(m, { urgent: i % 4 === 0 })));
    assert.deepEqual(await count(m), { new: 40, saved: 0, urgentNew: 10, urgentSaved: 0 });
    const { messages } = await request(rig.nc, StorageApi.listMailbox, { mailbox: m, limit: 100 });
    await Promise.all(messages.slice(0, 15).map((message) => request(rig.nc, StorageApi.markMessage, { mailbox: m, id: message.id, read: true })));
    await Promise.all(messages.slice(10, 20).map((message) => request(rig.nc, StorageApi.deleteMessage, { mailbox: m, id: message.id })));
    const heard = messages.slice(0, 10);
    const expected = {
      new: 40 - 20,
      saved: heard.length,
      urgentNew: messages.slice(20).filter((x) => x.urgent).length,
      urgentSaved: heard.filter((x) => x.urgent).length,
    };
    assert.deepEqual(await count(m), expected);
    // What a listing finds is what was kept.
    const listed = await request(rig.nc, StorageApi.listMailbox, { mailbox: m, limit: 100 });
    assert.equal(listed.total, expected.new + expected.saved);
    assert.deepEqual(await count(m), expected);
  });

  describe('a change and a listing on two instances crossing', () => {
    // Two keepers on the same bucket, as two storage instances; the mailbox is a set of ids that
    // each "instance" changes before it counts the change, as the store does with its objects.
    const zero = { new: 0, saved: 0, urgentNew: 0, urgentSaved: 0 };
    const holding = () => {
      const ids = new Set<string>();
      return { ids, list: async () => ({ ...zero, new: ids.size }) };
    };

    it('a deposit the other instance already listed is not counted twice', async () => {
      const m = mailbox();
      const [a, b] = [new MailboxCountKeeper(kv), new MailboxCountKeeper(kv)];
      const box = holding();
      const bTicket = await b.ticket(m);
      box.ids.add('b1'); // stored by b, not yet counted
      const aTicket = await a.ticket(m);
      box.ids.add('a1');
      assert.deepEqual(await a.change(m, { new: 1 }, aTicket, box.list), { ...zero, new: 2 }, 'no counts kept yet: a lists, and sees b1 too');
      assert.deepEqual(await b.change(m, { new: 1 }, bTicket, box.list), { ...zero, new: 2 });
      assert.deepEqual(await count(m), { ...zero, new: 2 });
    });

    it('a delete the other instance listed already is not taken off twice', async () => {
      const m = mailbox();
      const [a, b] = [new MailboxCountKeeper(kv), new MailboxCountKeeper(kv)];
      const box = holding();
      for (const id of ['m1', 'm2', 'm3']) {
        const ticket = await a.ticket(m);
        box.ids.add(id);
        await a.change(m, { new: 1 }, ticket, box.list);
      }
      const bTicket = await b.ticket(m);
      box.ids.delete('m2'); // deleted by b, not yet counted
      assert.deepEqual(await a.recount(m, box.list), { ...zero, new: 2 }, "a's listing no longer finds m2");
      assert.deepEqual(await b.change(m, { new: -1 }, bTicket, box.list), { ...zero, new: 2 });
      assert.deepEqual(await count(m), { ...zero, new: 2 });
    });

    it('a listing that finds what is kept writes nothing, so changes in flight stay cheap', async () => {
      const m = mailbox();
      const keeper = new MailboxCountKeeper(kv);
      const box = holding();
      const ticket = await keeper.ticket(m);
      box.ids.add('m1');
      await keeper.change(m, { new: 1 }, ticket, box.list);
      const before = await kv.get(keyOf(m));
      assert.deepEqual(await keeper.recount(m, box.list), { ...zero, new: 1 });
      assert.equal((await kv.get(keyOf(m)))?.revision, before?.revision);
    });
  });

  it('counts lost with NATS are counted afresh, once, from the mailbox', async () => {
    const m = mailbox();
    for (let i = 0; i < 3; i++) await deposit(m);
    await kv.purge(keyOf(m));
    assert.deepEqual(await count(m), { new: 3, saved: 0, urgentNew: 0, urgentSaved: 0 });
    await kv.purge(keyOf(m));
    assert.deepEqual((await deposit(m)).counts, { new: 4, saved: 0, urgentNew: 0, urgentSaved: 0 }, 'a deposit without kept counts counts the mailbox');
  });

  it('a deposit done again after a crash before it was counted puts the counts right', async () => {
    const m = mailbox();
    await deposit(m);
    const once = { key: `deposit-${n}`, recordedAt: new Date().toISOString() };
    const first = await deposit(m, once);
    assert.deepEqual(first.counts, { new: 2, saved: 0, urgentNew: 0, urgentSaved: 0 });
    // The instance stored the message and died before counting it: the kept counts miss it.
    await kv.put(keyOf(m), JSON.stringify({ new: 1, saved: 0, urgentNew: 0, urgentSaved: 0 }));
    const again = await deposit(m, once);
    assert.equal(again.created, false);
    assert.deepEqual(again.counts, { new: 2, saved: 0, urgentNew: 0, urgentSaved: 0 });
    assert.deepEqual(await count(m), { new: 2, saved: 0, urgentNew: 0, urgentSaved: 0 });
  });

  it('kept counts that no longer fit the mailbox (below zero) are counted afresh', async () => {
    const m = mailbox();
    await deposit(m);
    const { messages } = await request(rig.nc, StorageApi.listMailbox, { mailbox: m, limit: 10 });
    await kv.put(keyOf(m), JSON.stringify({ new: 0, saved: 0, urgentNew: 0, urgentSaved: 0 }));
    const deleted = await request(rig.nc, StorageApi.deleteMessage, { mailbox: m, id: messages[0]!.id });
    assert.deepEqual(deleted.counts, { new: 0, saved: 0, urgentNew: 0, urgentSaved: 0 });
  });
});
