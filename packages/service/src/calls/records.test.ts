/**
 * Call records against a real nats-server: compare-and-set between instances, and a write whose
 * reply is lost. The loss is made by a KV that stores the write and then fails as a reply lost
 * with a dying leader does (`lostReplyKv`, `lostRequestKv` below: stand-ins that inject the loss
 * around the real KV; a real election cannot be timed this precisely).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/nats-core';
import type { KV } from '@nats-io/kv';
import { z } from 'zod';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { BUCKETS, eraseKvKey, openKv } from '@sipvm/contracts';
import { startNats, type NatsServer } from '@sipvm/harness';
import { CallRecords } from './records.js';

const RecordSchema = z.object({ callRef: z.string(), phase: z.string() });
type Rec = z.infer<typeof RecordSchema>;

/** Stores the next `losses` writes and then throws as if their replies had been lost. */
function lostReplyKv(kv: KV, losses: { left: number }): KV {
  const lossy = Object.create(kv) as KV;
  const lose = async (write: () => Promise<number>) => {
    const revision = await write();
    if (losses.left-- > 0) throw new Error('TIMEOUT: the reply was lost with the leader');
    return revision;
  };
  lossy.create = (key, data) => lose(() => kv.create(key, data));
  lossy.update = (key, data, version) => lose(() => kv.update(key, data, version));
  return lossy;
}

/** The next write fails before it reaches the server, after `meanwhile` ran (another instance's write). */
function lostRequestKv(kv: KV, meanwhile: () => Promise<unknown>): KV {
  const lossy = Object.create(kv) as KV;
  let lost = false;
  lossy.update = async (key, data, version) => {
    if (lost) return kv.update(key, data, version);
    lost = true;
    await meanwhile();
    throw new Error('TIMEOUT: no leader to take the write');
  };
  return lossy;
}

describe('call records', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let kv: KV;
  let jsm: JetStreamManager;
  let n = 0;
  const erase = (key: string) => eraseKvKey(jsm, BUCKETS.voicemailCalls, key);
  const callRef = () => `call-${process.pid}-${++n}`;

  before(async () => {
    nats = await startNats();
    nc = await nats.connect();
    kv = await openKv(nc, BUCKETS.voicemailCalls, { ttl: 60_000 });
    jsm = await jetstreamManager(nc);
  });
  after(async () => {
    await nc?.close();
    await nats?.close();
  });

  it('a second start of the same call is refused; the first record stays', async () => {
    const ref = callRef();
    const [a, b] = [new CallRecords(kv, RecordSchema, erase), new CallRecords(kv, RecordSchema, erase)];
    assert.equal(await a.create(ref, { callRef: ref, phase: 'greeting' }), true);
    assert.equal(await b.create(ref, { callRef: ref, phase: 'other' }), false);
    assert.deepEqual((await b.get(ref, true))?.record, { callRef: ref, phase: 'greeting' });
  });

  it("a create whose reply was lost is this instance's own: taken, with the stored revision", async () => {
    const ref = callRef();
    const records = new CallRecords(lostReplyKv(kv, { left: 1 }), RecordSchema, erase);
    assert.equal(await records.create(ref, { callRef: ref, phase: 'greeting' }), true);
    const stored = await new CallRecords(kv, RecordSchema, erase).get(ref, true);
    assert.deepEqual(stored?.record, { callRef: ref, phase: 'greeting' }, 'the mark is not part of the record read');
    assert.equal((await records.get(ref))?.revision, stored?.revision);
    // Its next change writes on that revision.
    assert.equal(await records.replace(ref, { callRef: ref, phase: 'recording' }, stored!.revision), true);
  });

  it("an update whose reply was lost is this instance's own; another instance's change still wins", async () => {
    const ref = callRef();
    const plain = new CallRecords(kv, RecordSchema, erase);
    assert.equal(await plain.create(ref, { callRef: ref, phase: 'greeting' }), true);
    const first = (await plain.get(ref, true))!.revision;
    const lossy = new CallRecords(lostReplyKv(kv, { left: 1 }), RecordSchema, erase);
    assert.equal(await lossy.replace(ref, { callRef: ref, phase: 'recording' }, first), true);
    assert.deepEqual((await plain.get(ref, true))?.record, { callRef: ref, phase: 'recording' });
    // A write on the old revision, after someone else's change: refused, reply lost or not.
    const late = new CallRecords(lostReplyKv(kv, { left: 1 }), RecordSchema, erase);
    assert.equal(await late.replace(ref, { callRef: ref, phase: 'done' } satisfies Rec, first), false);
    assert.deepEqual((await plain.get(ref, true))?.record, { callRef: ref, phase: 'recording' });
  });

  it('a write that never arrived, refused when tried again because another instance wrote meanwhile, is not taken for its own', async () => {
    const ref = callRef();
    const other = new CallRecords(kv, RecordSchema, erase);
    assert.equal(await other.create(ref, { callRef: ref, phase: 'greeting' }), true);
    const first = (await other.get(ref, true))!.revision;
    const records = new CallRecords(
      lostRequestKv(kv, () => other.replace(ref, { callRef: ref, phase: 'recording' }, first)),
      RecordSchema,
      erase,
    );
    assert.equal(await records.replace(ref, { callRef: ref, phase: 'done' }, first), false);
    assert.deepEqual((await other.get(ref, true))?.record, { callRef: ref, phase: 'recording' });
  });

  it('a record deleted when its call ends leaves nothing in the bucket: no marker for NATS to keep', async () => {
    const ref = callRef();
    const records = new CallRecords(kv, RecordSchema, erase);
    assert.equal(await records.create(ref, { callRef: ref, phase: 'greeting' }), true);
    const { revision } = (await records.get(ref))!;
    assert.equal(await records.replace(ref, { callRef: ref, phase: 'recording' }, revision), true);
    await records.delete(ref);
    assert.equal(await new CallRecords(kv, RecordSchema, erase).get(ref, true), undefined);
    const left = await jsm.streams.getMessage(`KV_${BUCKETS.voicemailCalls}`, { last_by_subj: `$KV.${BUCKETS.voicemailCalls}.${ref}` });
    assert.equal(left, null, 'no message of the key is kept, not even a delete marker');
    await records.delete(ref); // twice is fine
  });
});
