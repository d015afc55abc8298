/**
 * The SEMS importer as an operator runs it (`npm run import:sems`, its compiled main.js), against a
 * real nats-server and the storage service on a local folder, from a folder laid out exactly as
 * SEMS writes one: what ends up in the mailboxes, what MWI is told, and that a second run, a dry
 * run and damaged files change nothing they should not.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { isServiceError, request, STREAMS, StorageApi, type Mailbox } from '@sipvm/contracts';
import { alawWav, dominantFrequency, runSemsImport, tempDir, toneWav, wavHeader, wavSamples, writeSemsGreeting, writeSemsMessage } from '@sipvm/harness';
import { mailboxEvents, readAll, startStorageRig, type StorageRig } from '../../test/support.js';

const ALICE: Mailbox = { did: 'iptel.org', uid: 'alice' };
const REX: Mailbox = { did: 'example.org', uid: 'rex' };

describe('importing a SEMS msg_storage folder', () => {
  let rig: StorageRig;
  let sems: Awaited<ReturnType<typeof tempDir>>;
  let storageDir: Awaited<ReturnType<typeof tempDir>>;
  const files: Record<string, string> = {};
  const tones = { saved: 450, fresh: 650, alaw: 850, rex: 550, greeting: 300 };

  before(async () => {
    sems = await tempDir('sems-spool');
    storageDir = await tempDir('sems-import-storage');
    rig = await startStorageRig({ STORAGE_BACKEND: 'local', STORAGE_DIR: storageDir.path });
    const message = (name: string, fixture: Parameters<typeof writeSemsMessage>[1]) =>
      writeSemsMessage(sems.path, fixture).then((path) => (files[name] = path));
    await message('saved', {
      domain: 'iptel.org',
      user: 'alice',
      ts: 1_700_000_000,
      sender: '"Bob" <sip:bob@example.net>;tag=1f2e',
      audio: toneWav(tones.saved, 1_500),
      saved: true,
    });
    await message('fresh', {
      domain: 'iptel.org',
      user: 'alice',
      ts: 1_700_000_100,
      sender: 'sip:+4930123@carrier.example',
      audio: toneWav(tones.fresh, 2_000),
      saved: false,
    });
    await message('alaw', {
      domain: 'iptel.org',
      user: 'alice',
      ts: 1_700_000_200,
      sender: 'sip:carol@example.net',
      audio: alawWav(toneWav(tones.alaw, 1_000)),
      saved: false,
    });
    await message('rex', {
      domain: 'example.org',
      user: 'rex',
      ts: 1_700_000_500,
      sender: 'sip:alice@iptel.org',
      audio: toneWav(tones.rex, 1_000),
      saved: true,
    });
    await message('garbage', {
      domain: 'iptel.org',
      user: 'alice',
      ts: 1_700_000_300,
      sender: 'sip:eve@x.org',
      audio: Buffer.from('this is no recording'),
      saved: false,
    });
    const truncated = Buffer.concat([wavHeader(16_000), Buffer.alloc(100)]);
    await message('truncated', { domain: 'iptel.org', user: 'alice', ts: 1_700_000_400, sender: 'sip:eve@x.org', audio: truncated, saved: false });
    files.greeting = await writeSemsGreeting(sems.path, { domain: 'iptel.org', user: 'alice', type: 'vm', audio: toneWav(tones.greeting, 1_000) });
  });
  after(async () => {
    await rig?.stop();
    await sems?.remove();
    await storageDir?.remove();
  });

  const importer = (...args: string[]) => runSemsImport(rig.nats, ['--from', sems.path, ...args]);
  const counts = async (mailbox: Mailbox) => (await request(rig.nc, StorageApi.countMailbox, { mailbox })).counts;
  const times = async () =>
    Object.fromEntries(await Promise.all(Object.entries(files).map(async ([name, path]) => [name, (await stat(path)).atimeMs] as const)));
  const lastEventSeq = async () => (await (await jetstreamManager(rig.nc)).streams.info(STREAMS.mailbox.name).catch(() => undefined))?.state.last_seq ?? 0;

  it('a dry run reports what it would do and writes nothing', async () => {
    const before = await times();
    const run = await importer('--dry-run');
    assert.equal(run.code, 0, run.output);
    assert.match(run.stdout, /dry run: nothing was written/);
    assert.match(run.stdout, /mailboxes: 2/);
    assert.match(run.stdout, /messages: {2}4 would import \(2 new, 2 saved\), 0 already there/);
    assert.match(run.stdout, /greetings: 1 would import, 0 already there/);
    assert.deepEqual(await counts(ALICE), { new: 0, saved: 0, urgentNew: 0, urgentSaved: 0 });
    await assert.rejects(request(rig.nc, StorageApi.getGreeting, { mailbox: ALICE, type: 'vm' }), (e: unknown) => isServiceError(e, 'greeting-not-found'));
    assert.equal(await lastEventSeq(), 0, 'no mailbox event');
    assert.deepEqual(await times(), before, 'reading the SEMS folder changed an access time, which says new or saved');
  });

  it("imports messages with sender, time and SEMS's new/saved state, the greeting, and tells MWI", async () => {
    const before = await times();
    const run = await importer();
    assert.equal(run.code, 0, run.output);
    assert.match(run.stdout, /messages: {2}4 imported \(2 new, 2 saved\), 0 already there/);
    assert.match(run.stdout, /greetings: 1 imported, 0 already there/);
    assert.match(run.stdout, /skipped: {3}2 \(2 damaged\)/);
    assert.match(run.stdout, /1700000300\+sip:eve@x\.org\.wav: damaged: it is not a RIFF\/WAVE file/);
    assert.match(run.stdout, /1700000400\+sip:eve@x\.org\.wav: damaged: truncated \(the header announces 16000 bytes of audio, the file holds 100\)/);
    assert.match(run.stderr, /\[#{30}\] 100% {2}7\/7 files/, 'the progress bar');
    // Before this test reads any of them itself:
    assert.deepEqual(await times(), before, 'the SEMS folder keeps its access times: SEMS (or a later run) still sees the same state');

    const { messages } = await request(rig.nc, StorageApi.listMailbox, { mailbox: ALICE });
    assert.deepEqual(
      messages.map((m) => [m.sender, m.recordedAt, m.read, m.codec, m.durationMs]),
      [
        ['sip:carol@example.net', '2023-11-14T22:16:40.000Z', false, 'PCMA', 1_000],
        ['sip:+4930123@carrier.example', '2023-11-14T22:15:00.000Z', false, 'L16', 2_000],
        ['sip:bob@example.net', '2023-11-14T22:13:20.000Z', true, 'L16', 1_500],
      ],
    );
    const audioOf = (id: string) => readAll(rig.nc, { kind: 'message', mailbox: ALICE, id });
    assert.deepEqual(await audioOf(messages[1]!.id), await readFile(files.fresh!), 'a PCM WAV is stored byte for byte');
    const converted = wavSamples(await audioOf(messages[0]!.id));
    assert.equal(converted.rate, 8000);
    assert.ok(Math.abs(dominantFrequency(converted.samples) - tones.alaw) < 20, 'the A-law message, converted, is still its tone');
    const greeting = await readAll(rig.nc, { kind: 'greeting', mailbox: ALICE, type: 'vm' });
    assert.deepEqual(greeting, await readFile(files.greeting!));
    assert.deepEqual(await counts(ALICE), { new: 2, saved: 1, urgentNew: 0, urgentSaved: 0 });
    assert.deepEqual(await counts(REX), { new: 0, saved: 1, urgentNew: 0, urgentSaved: 0 });

    const events = await mailboxEvents(rig.nc);
    const last = (mailbox: Mailbox) => events.filter((e) => e.mailbox.uid === mailbox.uid).at(-1);
    assert.deepEqual(last(ALICE)?.counts, { new: 2, saved: 1, urgentNew: 0, urgentSaved: 0 }, 'MWI hears the final counts');
    assert.deepEqual(last(REX)?.counts, { new: 0, saved: 1, urgentNew: 0, urgentSaved: 0 });
  });

  it('a second run changes nothing', async () => {
    const { messages: first } = await request(rig.nc, StorageApi.listMailbox, { mailbox: ALICE });
    const events = await lastEventSeq();
    const run = await importer();
    assert.equal(run.code, 0, run.output);
    assert.match(run.stdout, /messages: {2}0 imported \(0 new, 0 saved\), 4 already there/);
    assert.match(run.stdout, /greetings: 0 imported, 1 already there/);
    assert.deepEqual((await request(rig.nc, StorageApi.listMailbox, { mailbox: ALICE })).messages, first);
    assert.equal(await lastEventSeq(), events, 'no mailbox event: MWI is not disturbed');
  });

  it('does not overwrite a greeting recorded since, and brings over a message SEMS took later', async () => {
    await writeFile(files.greeting!, toneWav(900, 500));
    await writeSemsMessage(sems.path, {
      domain: 'iptel.org',
      user: 'alice',
      ts: 1_700_001_000,
      sender: 'sip:late@example.net',
      audio: toneWav(700, 1_000),
      saved: false,
    });
    const run = await importer();
    assert.equal(run.code, 0, run.output);
    assert.match(run.stdout, /messages: {2}1 imported \(1 new, 0 saved\), 4 already there/);
    assert.match(run.stdout, /greetings: 0 imported, 1 already there/);
    const greeting = wavSamples(await readAll(rig.nc, { kind: 'greeting', mailbox: ALICE, type: 'vm' })).samples;
    assert.ok(Math.abs(dominantFrequency(greeting) - tones.greeting) < 20, 'the greeting already there was kept');
    assert.deepEqual(await counts(ALICE), { new: 3, saved: 1, urgentNew: 0, urgentSaved: 0 });
  });

  it('says so and stops when the storage service is not there', async () => {
    await rig.service.stop();
    try {
      const run = await importer();
      assert.equal(run.code, 69, run.output);
      assert.match(run.stderr, /the storage service does not answer/);
    } finally {
      await rig.restartService();
    }
  });
});
