import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SEMS_TEMPLATE_SAMPLE } from '@sipvm/harness';
import { checkVariables, parseTemplate, renderTemplate, TemplateError } from './template.js';
import { BUILTIN_TEMPLATE_DIR, TemplateSet } from './template-set.js';
import { formatDate, knownVariables, mailVariables } from './variables.js';

// SEMS's own default template format, byte for byte as SEMS ships it (spaces or not after the colon).
const SEMS_TEMPLATE = `subject: Voice message from: %from%
from:voicemail@%domain%
to:%email%
header:X-Content: Voicemail

Hello %user%@%domain%,

%from% left a voice message for you (100%% free).
`;

it('parses a SEMS .template as it is and renders it', () => {
  const template = parseTemplate('default.template', SEMS_TEMPLATE);
  const mail = renderTemplate(template, { from: 'sip:bob@example.net', domain: 'iptel.org', email: 'alice@mymail.org', user: 'alice' });
  assert.equal(mail.subject, 'Voice message from: sip:bob@example.net');
  assert.equal(mail.from, 'voicemail@iptel.org');
  assert.equal(mail.to, 'alice@mymail.org');
  assert.deepEqual(mail.headers, [{ key: 'X-Content', value: 'Voicemail' }]);
  assert.equal(mail.text, 'Hello alice@iptel.org,\n\nsip:bob@example.net left a voice message for you (100% free).\n');
});

it('splits SEMS header: lines holding several headers separated by \\n', () => {
  const template = parseTemplate('default.template', SEMS_TEMPLATE_SAMPLE);
  checkVariables(template, knownVariables([]));
  const mail = renderTemplate(template, { from: 'sip:bob@example.net', domain: 'iptel.org', email: 'alice@mymail.org', user: 'alice', vmsg_length: '4.20' });
  assert.deepEqual(mail.headers, [
    { key: 'X-Content', value: 'Voicemail' },
    { key: 'X-Voicemail-Sender', value: 'sip:bob@example.net' },
  ]);
  assert.match(mail.text, /The message is 4\.20s long\./);
  assert.deepEqual(parseTemplate('t', 'subject: x\nfrom: a@b.c\nto: %email%\nheader:\n\nbody').headers, [], 'an empty header: line adds none');
  assert.throws(() => parseTemplate('t', 'subject: x\nfrom: a@b.c\nto: %email%\nheader:X-A: 1\\nBcc eve\n\nbody'), /header must be "Name: value"/);
});

it('refuses templates that would send a broken mail', () => {
  assert.throws(() => parseTemplate('t', 'subject: x\nfrom: a@b.c\n\nbody'), /missing or empty "to:"/);
  assert.throws(() => parseTemplate('t', 'subject: x\nfrom: a@b.c\nto: %email%\nbcc: eve@x.org\n\nbody'), /unknown line "bcc: eve@x.org"/);
  assert.throws(() => parseTemplate('t', 'subject: x\nfrom: a@b.c\nto: %email%\n\n   \n'), /the body is empty/);
  assert.throws(() => parseTemplate('t', 'subject: x\nfrom: a@b.c\nto: %email%'), /no empty line/);
  assert.throws(() => checkVariables(parseTemplate('t', 'subject: 50% off\nfrom: a@b.c\nto: %email%\n\nx'), knownVariables([])), /"%" must start a %variable%/);
});

it('names unknown variables, and accepts configured extra ones', () => {
  const template = parseTemplate('acme.template', 'subject: for %user%\nfrom: a@b.c\nto: %email%\n\nDear %name%, from %sendr%');
  assert.throws(
    () => checkVariables(template, knownVariables([])),
    (error: unknown) => {
      assert.ok(error instanceof TemplateError);
      assert.match(error.message, /acme\.template: unknown variables %name%, %sendr%/);
      return true;
    },
  );
  assert.throws(() => checkVariables(template, knownVariables(['name'])), /unknown variable %sendr%/);
});

it('keeps values from injecting headers, and escapes them in HTML', () => {
  const template = parseTemplate('t', 'subject: from %sender%\nfrom: a@b.c\nto: %email%\n\nx', '<p>%sender%</p>');
  const mail = renderTemplate(template, { sender: 'x\r\nBcc: eve@evil.org <script>', email: 'a@b.c' });
  assert.equal(mail.subject, 'from x Bcc: eve@evil.org <script>');
  assert.equal(mail.html, '<p>x\r\nBcc: eve@evil.org &lt;script&gt;</p>');
});

it('chooses did+language, then did, then default+language, then default', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sipvm-templates-'));
  const write = (name: string, subject: string) => writeFile(join(dir, `${name}.template`), `subject: ${subject}\nfrom: a@b.c\nto: %email%\n\nbody\n`);
  await write('example.org_de', 'example de');
  await write('example.org', 'example');
  await write('default_fr', 'default fr');
  const set = await TemplateSet.load([BUILTIN_TEMPLATE_DIR, dir], knownVariables([]));
  assert.equal(set.select('example.org', 'de').subject, 'example de');
  assert.equal(set.select('example.org', 'de-AT').subject, 'example de');
  assert.equal(set.select('example.org', 'fr').subject, 'example');
  assert.equal(set.select('other.org', 'fr').subject, 'default fr');
  assert.match(set.select('other.org', 'de').subject, /^%urgent%Sprachnachricht von/);
  assert.match(set.select('other.org', undefined).subject, /^%urgent%Voice message from/);
});

it("finds SEMS templates named by SEMS language names, and the platform's by tag, for the same lng", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sipvm-templates-'));
  const write = (name: string, subject: string | Buffer) =>
    writeFile(
      join(dir, `${name}.template`),
      Buffer.concat([Buffer.from('subject: '), Buffer.from(subject), Buffer.from('\nfrom: a@b.c\nto: %email%\n\nbody\n')]),
    );
  await write('default_english', 'english');
  await write('iptel.org_german', 'iptel german');
  await write('default_klingon', 'klingon');
  await write('default_french', Buffer.from('Message vocal reçu', 'latin1'));
  const set = await TemplateSet.load([BUILTIN_TEMPLATE_DIR, dir], knownVariables([]));
  assert.equal(set.select('iptel.org', 'english').subject, 'english');
  assert.equal(set.select('iptel.org', 'en').subject, 'english', 'en finds english: the SEMS name of its tag');
  assert.equal(set.select('iptel.org', 'german').subject, 'iptel german');
  assert.match(set.select('other.org', 'german').subject, /^%urgent%Sprachnachricht von/, "german finds the platform's default_de");
  assert.equal(set.select('other.org', 'klingon').subject, 'klingon');
  assert.equal(set.select('other.org', 'fr').subject, 'Message vocal reçu', 'a Latin-1 template reads as Latin-1');
});

it("names the caller as a person, with the length in words of the mail's language", () => {
  const job = {
    mailId: 'mail-0002',
    to: 'alice@mymail.org',
    user: 'alice',
    domain: 'iptel.org',
    uid: 'u-1',
    did: 'd-1',
    language: 'german',
    sender: 'sip:+4930123456@carrier.example;user=phone',
    caller: { name: 'Bob Smith', number: '+4930123456', numberText: '030 123456', withheld: false },
    recordedAt: '2026-11-23T08:18:47.000Z',
    durationMs: 9_200,
    extra: {},
    enqueuedAt: '2026-11-23T08:20:00.000Z',
  };
  const variables = mailVariables(job, { timeZone: 'Europe/Berlin', extraKeys: [] });
  assert.equal(variables.caller, 'Bob Smith (030 123456)');
  assert.equal(variables.caller_name, 'Bob Smith');
  assert.equal(variables.caller_number, '030 123456');
  assert.equal(variables.length, '9 Sekunden');
  const withheld = mailVariables({ ...job, language: 'en', caller: { withheld: true } }, { timeZone: 'UTC', extraKeys: [] });
  assert.deepEqual([withheld.caller, withheld.caller_name, withheld.caller_number, withheld.length], ['withheld number', '', '', '9 seconds']);
});

it('computes the documented variables from a mail job', () => {
  const variables = mailVariables(
    {
      mailId: 'mail-0001',
      to: 'alice@mymail.org',
      user: 'alice',
      domain: 'iptel.org',
      uid: 'u-1',
      did: 'd-1',
      language: 'en',
      sender: 'sip:+4930123@carrier.example;user=phone',
      recordedAt: '2026-11-23T08:18:47.000Z',
      durationMs: 83_400,
      messageId: '20261123T081847000Z-0123456789ab',
      extra: { name: 'Alice' },
      enqueuedAt: '2026-11-23T08:20:00.000Z',
    },
    { timeZone: 'Europe/Berlin', extraKeys: ['name', 'company'] },
  );
  assert.deepEqual(variables, {
    user: 'alice',
    domain: 'iptel.org',
    uid: 'u-1',
    did: 'd-1',
    email: 'alice@mymail.org',
    sender: 'sip:+4930123@carrier.example;user=phone',
    from: 'sip:+4930123@carrier.example;user=phone',
    from_user: '+4930123',
    from_domain: 'carrier.example',
    to: 'sip:alice@iptel.org',
    ts: '1795421927',
    date: '2026-11-23 09:18:47 CET',
    vmsg_length: '83.40',
    duration: '1:23',
    msgid: '20261123T081847000Z-0123456789ab',
    name: 'Alice',
    company: '',
    // A job from before the caller was known: the sender stands for it.
    caller: 'sip:+4930123@carrier.example;user=phone',
    caller_name: '',
    caller_number: '',
    length: '1 minute, 23 seconds',
    transcript: '',
    no_transcript: '',
    urgent: '',
    messages: '',
    limit: '',
    expiring: '',
    expires: '',
  });
  assert.equal(formatDate(new Date('2026-07-01T12:00:00Z'), 'Europe/Berlin'), '2026-07-01 14:00:00 CEST');
});

it("shows %if:…% blocks only when their variable is not empty, and takes a tag's own line with it", () => {
  const template = parseTemplate(
    't.template',
    'subject: Message%if:transcript% (transcribed)%/if%\nfrom: a@b.c\nto: %email%\n\nHello.\n%if:transcript%\n  Said: %transcript%\n  %if:name%Signed: %name%%/if%\n%/if%\nBye.\n',
  );
  checkVariables(template, knownVariables(['name']));
  const said = renderTemplate(template, { email: 'a@b.c', transcript: 'call me back', name: 'Bob' });
  assert.equal(said.subject, 'Message (transcribed)');
  assert.equal(said.text, 'Hello.\n  Said: call me back\n  Signed: Bob\nBye.\n');
  assert.equal(renderTemplate(template, { email: 'a@b.c', transcript: 'call me back', name: '' }).text, 'Hello.\n  Said: call me back\n  \nBye.\n');
  const silent = renderTemplate(template, { email: 'a@b.c', transcript: '', name: 'Bob' });
  assert.equal(silent.subject, 'Message');
  assert.equal(silent.text, 'Hello.\nBye.\n', 'nothing of the block, not even its lines');
  assert.throws(
    () => checkVariables(parseTemplate('t', 'subject: x\nfrom: a@b.c\nto: %email%\n\n%if:trancsript%x%/if%'), knownVariables([])),
    /unknown variable %trancsript%/,
  );
  assert.throws(
    () => checkVariables(parseTemplate('t', 'subject: x\nfrom: a@b.c\nto: %email%\n\n%if:transcript%x'), knownVariables([])),
    /%if:…% without its %\/if%/,
  );
  assert.throws(() => checkVariables(parseTemplate('t', 'subject: x\nfrom: a@b.c\nto: %email%\n\nx%/if%'), knownVariables([])), /%\/if% without its %if:…%/);
});

it('puts what the caller said into the mail, or says there is none when the mail waited for it in vain', async () => {
  const templates = await TemplateSet.load([BUILTIN_TEMPLATE_DIR], knownVariables([]));
  const job = {
    mailId: 'mail-0002',
    to: 'alice@mymail.org',
    user: 'alice',
    domain: 'iptel.org',
    uid: 'alice',
    did: 'iptel.org',
    sender: 'sip:bob@example.net',
    recordedAt: '2026-11-23T08:18:47.000Z',
    durationMs: 7_000,
    extra: {},
    enqueuedAt: '2026-11-23T08:20:00.000Z',
  };
  const text = (more: object, language?: string) =>
    renderTemplate(templates.select('iptel.org', language), mailVariables({ ...job, ...more }, { timeZone: 'UTC', extraKeys: [] })).text;
  const heard = {
    transcript: { status: 'done', text: 'please call me back tomorrow', language: 'en', engine: 'pocketsphinx', at: '2026-11-23T08:20:05.000Z' },
  } as const;

  assert.match(
    text(heard),
    /on 2026-11-23 08:18:47 UTC\.\n\nThe caller said \(transcribed by machine, so it may be wrong\):\n"please call me back tomorrow"\n\nThe recording is attached\./,
  );
  assert.match(text(heard, 'de'), /\n„please call me back tomorrow“\n\nDie Aufnahme ist angehängt\./);
  // Transcription off, or on without the mail waiting: the mail reads as it always did.
  assert.match(text({}), /on 2026-11-23 08:18:47 UTC\.\nThe recording is attached\./);
  assert.doesNotMatch(text({}), /transcri/i);
  // The mail waited and nothing came (deadline), or the engine could not hear it.
  const deadline = text({ awaitTranscriptUntil: '2026-11-23T08:21:00.000Z' });
  assert.match(deadline, /UTC\.\nThere is no transcript of this message\.\nThe recording is attached\./);
  assert.equal(text({ transcript: { status: 'none', reason: 'engine-failed', at: '2026-11-23T08:20:01.000Z' } }), deadline);
  const variables = mailVariables(
    { ...job, transcript: { status: 'none', reason: 'language-not-supported', at: '2026-11-23T08:20:01.000Z' } },
    { timeZone: 'UTC', extraKeys: [] },
  );
  assert.deepEqual([variables.transcript, variables.no_transcript], ['', 'language-not-supported']);
});

it("an urgent message says so in the subject, in the mail's language", async () => {
  const set = await TemplateSet.load([BUILTIN_TEMPLATE_DIR], knownVariables([]));
  const job = {
    mailId: 'mail-0002',
    to: 'alice@mymail.org',
    user: 'alice',
    domain: 'iptel.org',
    uid: 'alice',
    did: 'iptel.org',
    sender: 'sip:+4930123@carrier.example',
    recordedAt: '2026-11-23T08:18:47.000Z',
    durationMs: 5_000,
    urgent: true,
    extra: {},
    enqueuedAt: '2026-11-23T08:20:00.000Z',
  };
  const subject = (language: string) =>
    renderTemplate(set.select('iptel.org', language), mailVariables({ ...job, language }, { timeZone: 'UTC', extraKeys: [] })).subject;
  assert.equal(subject('en'), 'Urgent: Voice message from sip:+4930123@carrier.example (5 seconds)');
  assert.equal(subject('de'), 'Dringend: Sprachnachricht von sip:+4930123@carrier.example (5 Sekunden)');
  assert.equal(
    renderTemplate(set.select('iptel.org', 'en'), mailVariables({ ...job, urgent: false, language: 'en' }, { timeZone: 'UTC', extraKeys: [] })).subject,
    'Voice message from sip:+4930123@carrier.example (5 seconds)',
  );
});

it('notices have templates of their own, chosen like the others, with their counts', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sipvm-templates-'));
  await writeFile(join(dir, 'example.org_mailbox_full.template'), 'subject: example full %limit%\nfrom: a@b.c\nto: %email%\n\nbody\n');
  const set = await TemplateSet.load([BUILTIN_TEMPLATE_DIR, dir], knownVariables([]));
  const job = {
    mailId: 'notice-0001',
    to: 'alice@mymail.org',
    user: 'alice',
    domain: 'example.org',
    uid: 'alice',
    did: 'example.org',
    sender: 'sip:alice@example.org',
    recordedAt: '2026-11-23T08:18:47.000Z',
    durationMs: 0,
    extra: {},
    enqueuedAt: '2026-11-23T08:20:00.000Z',
    notice: { kind: 'mailbox-full' as const, messages: 50, limit: 50 },
  };
  const render = (did: string, language: string, notice: string) =>
    renderTemplate(set.select(did, language, notice), mailVariables({ ...job, did, language }, { timeZone: 'UTC', extraKeys: [] }));
  assert.equal(render('example.org', 'de', 'mailbox_full').subject, 'example full 50', "the domain's own first");
  assert.equal(render('other.org', 'de', 'mailbox_full').subject, 'Ihre Sprachbox ist voll (50 Nachrichten)');
  assert.equal(render('other.org', 'en', 'mailbox_almost_full').subject, 'Your voice mailbox is almost full (50 of 50 messages)');
});
