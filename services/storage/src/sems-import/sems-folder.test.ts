/** Reading a SEMS msg_storage folder by SEMS's rules, from a folder built the way SEMS writes one. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, toneWav, writeSemsGreeting, writeSemsMessage } from '@sipvm/harness';
import { parseImportArguments } from './arguments.js';
import { parseMessageName, readSemsFolder, savedBySems } from './sems-folder.js';

it("finds mailboxes, messages (new or saved by SEMS's access-time rule) and greetings, and says what else it saw", async () => {
  const dir = await tempDir('sems-folder');
  try {
    const audio = toneWav(440, 500);
    await writeSemsMessage(dir.path, { domain: 'iptel.org', user: 'alice', ts: 1_700_000_100, sender: 'sip:+4930123@carrier.example', audio, saved: false });
    await writeSemsMessage(dir.path, {
      domain: 'iptel.org',
      user: 'alice',
      ts: 1_700_000_000,
      sender: '"Bob" <sip:bob@example.net>;tag=a83f',
      audio,
      saved: true,
    });
    await writeSemsGreeting(dir.path, { domain: 'iptel.org', user: 'alice', type: 'busy', audio });
    await writeSemsMessage(dir.path, { domain: 'Example.ORG', user: 'Rco', ts: 1_600_000_000, sender: 'sip:x@y', audio, saved: false });
    // What SEMS would never call a message or a greeting:
    const alice = join(dir.path, 'iptel.org', 'alice');
    await writeFile(join(alice, 'notes.txt'), 'x');
    await writeFile(join(alice, '1700000200+sip:empty@x.wav'), '');
    await writeFile(join(alice, '.1700000300+sip:hidden@x.wav'), audio);
    await writeFile(join(dir.path, 'iptel.org-prompts', 'alice', 'Away.wav'), audio);
    await mkdir(join(dir.path, 'iptel.org', 'bad user'), { recursive: true });
    await writeFile(join(dir.path, 'stray.wav'), audio);
    await symlink(join(dir.path, 'gone.wav'), join(alice, '1700000500+sip:lost@x.wav'));
    // A display name in Latin-1, as older systems wrote it into the file name.
    await writeFile(Buffer.concat([Buffer.from(`${alice}/1700000400+"`), Buffer.from('Jürgen', 'latin1'), Buffer.from('" <sip:j@x.org>.wav')]), audio);

    const folder = await readSemsFolder(dir.path);
    assert.deepEqual(
      folder.mailboxes.map((m) => `${m.mailbox.did}/${m.mailbox.uid}`),
      ['example.org/Rco', 'iptel.org/alice'],
    );
    const inbox = folder.mailboxes[1]!;
    assert.deepEqual(
      inbox.messages.map((m) => [m.recordedAt.toISOString(), m.sender, m.saved]),
      [
        ['2023-11-14T22:13:20.000Z', 'sip:bob@example.net', true],
        ['2023-11-14T22:15:00.000Z', 'sip:+4930123@carrier.example', false],
        ['2023-11-14T22:20:00.000Z', 'sip:j@x.org', false],
      ],
    );
    assert.deepEqual(
      inbox.greetings.map((g) => g.type),
      ['busy'],
    );
    assert.deepEqual(folder.skipped.map((s) => `${s.name}: ${s.reason.split(' (')[0]}`).sort(), [
      'iptel.org-prompts/alice/Away.wav: not a greeting',
      'iptel.org/alice/1700000200+sip:empty@x.wav: empty',
      'iptel.org/alice/1700000500+sip:lost@x.wav: cannot be read',
      'iptel.org/alice/notes.txt: not a SEMS message name',
      'iptel.org/bad user/: not a mailbox the platform can hold',
      'stray.wav: not a domain folder',
    ]);
    const before = await stat(join(alice, '1700000100+sip:+4930123@carrier.example.wav'));
    assert.equal(before.atimeMs, before.mtimeMs, 'reading the folder touched no file');
  } finally {
    await dir.remove();
  }
});

it("calls a message saved exactly when SEMS's userdir_open would", () => {
  assert.equal(savedBySems({ atimeMs: 1_700_000_020_000, mtimeMs: 1_700_000_020_000 }), false);
  assert.equal(savedBySems({ atimeMs: 1_700_000_021_000, mtimeMs: 1_700_000_020_000 }), true, 'msg_markread: one second later');
  assert.equal(savedBySems({ atimeMs: 1_700_000_020_900, mtimeMs: 1_700_000_020_100 }), false, 'the same second');
});

it('reads SEMS message names: time, and the URI of a whole From header', () => {
  assert.deepEqual(parseMessageName('1700000000+sip:bob@example.net.wav'), { recordedAt: new Date(1_700_000_000_000), sender: 'sip:bob@example.net' });
  assert.equal(parseMessageName('1700000000+"Bob" <sip:+49301@x.org;user=phone>;tag=1.mp3')?.sender, 'sip:+49301@x.org;user=phone');
  assert.equal(parseMessageName('1700000000+.wav')?.sender, '');
  assert.equal(parseMessageName('vm.wav'), undefined);
  assert.equal(parseMessageName('abc+sip:x.wav'), undefined);
});

it('reads its command line', () => {
  assert.deepEqual(parseImportArguments(['--from', '/var/spool/voicebox', '--dry-run']), {
    ok: true,
    help: false,
    from: '/var/spool/voicebox',
    dryRun: true,
    concurrency: 4,
  });
  assert.deepEqual(parseImportArguments(['--from=/x', '--concurrency=8']), { ok: true, help: false, from: '/x', dryRun: false, concurrency: 8 });
  assert.match((parseImportArguments(['--dry-run']) as { problem: string }).problem, /--from .* is required/);
  assert.match((parseImportArguments(['--from', '/x', '--concurrency', '0']) as { problem: string }).problem, /1 to 32/);
  assert.match((parseImportArguments(['--form', '/x']) as { problem: string }).problem, /unknown argument "--form"/);
});
