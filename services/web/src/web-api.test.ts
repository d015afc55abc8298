/**
 * The HTTP API end to end: real nats-server, the real storage service holding real messages, and
 * the web service as a process. Every answer is checked against the OpenAPI document the service
 * serves (test-support.ts).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request, StorageApi, wavHeader, type MessageInfo } from '@sipvm/contracts';
import { REPO_ROOT, smallWav, startNats, startWebService, storeMessage, tempDir, toneWav, waitFor } from '@sipvm/harness';
import { mailboxPath, startWebRig, type WebRig } from '../test/support.js';

const alice = { did: 'example.org', uid: 'alice' };
const bob = { did: 'example.org', uid: 'bob' };
const ALICE = mailboxPath(alice);
const BOB = mailboxPath(bob);

interface MessageView {
  id: string;
  read: boolean;
  audioUrl: string;
  audioUrlExpiresAt: string;
  size: number;
  caller?: unknown;
  transcript?: unknown;
}
interface MessageList {
  counts: { new: number; saved: number };
  total: number;
  messages: MessageView[];
}

describe('web API', () => {
  let rig: WebRig;
  let older: MessageInfo;
  let newer: MessageInfo;
  let bobs: MessageInfo;
  const newerWav = toneWav(440, 3000);
  let aliceToken = '';
  let bobToken = '';

  before(async () => {
    rig = await startWebRig({ VM_MAX_MESSAGES: '2' });
    older = (
      await storeMessage(rig.nc, alice, smallWav(1), {
        recordedAt: new Date(Date.now() - 60_000),
        sender: 'sip:carol@example.net',
        caller: { name: 'Carol Jones', number: '+4930123456', numberText: '030 123456', withheld: false },
      })
    ).message;
    newer = (await storeMessage(rig.nc, alice, newerWav, { urgent: true })).message;
    bobs = (await storeMessage(rig.nc, bob, smallWav(2))).message;
    aliceToken = await rig.web.issueToken(alice);
    bobToken = await rig.web.issueToken(bob);
  });
  after(async () => {
    await rig?.stop();
  });

  it('serves a valid OpenAPI 3.1 document describing every route', () => {
    const paths = Object.keys(rig.conformance.document.paths as object);
    for (const path of [
      '/api/v1/tokens',
      '/api/v1/mailboxes/{did}/{uid}/messages',
      '/api/v1/mailboxes/{did}/{uid}/messages/{id}/audio',
      '/api/v1/mailboxes/{did}/{uid}/greetings/{type}',
    ]) {
      assert.ok(paths.includes(path), path);
    }
    assert.ok((rig.conformance.document.webhooks as Record<string, unknown>).messageCreated);
  });

  it('lists a mailbox newest first with its counts and a short-lived audio link per message', async () => {
    const reply = await rig.call('GET', `${ALICE}/messages`, { token: aliceToken });
    assert.equal(reply.status, 200);
    const list = reply.json as MessageList;
    assert.deepEqual(list.counts, { new: 2, saved: 0, urgentNew: 1, urgentSaved: 0 });
    assert.equal(list.total, 2);
    assert.deepEqual(
      list.messages.map((m) => m.id),
      [newer.id, older.id],
    );
    const expires = Date.parse(list.messages[0]!.audioUrlExpiresAt);
    assert.ok(expires > Date.now() && expires <= Date.now() + 600_000 + 1_000, 'the link lives WEB_AUDIO_LINK_TTL (10 min)');
    const page = (await rig.call('GET', `${ALICE}/messages?offset=1&limit=1`, { token: aliceToken })).json as MessageList;
    assert.deepEqual(
      page.messages.map((m) => m.id),
      [older.id],
    );
    // The caller as a person, beside the sender (and the answer checked against the document, as every answer is).
    assert.deepEqual(page.messages[0]?.caller, { name: 'Carol Jones', number: '+4930123456', numberText: '030 123456', withheld: false });
    assert.equal(list.messages[0]?.caller, undefined, 'a message stored without one has none');
    assert.equal((await rig.call('GET', `${ALICE}/messages?limit=0`, { token: aliceToken })).status, 400);
  });

  it('shows what the caller said with the message, in the list (however long the page) and alone', async () => {
    const carol = { did: 'example.org', uid: 'carol-transcripts' };
    const token = await rig.web.issueToken(carol);
    // 53 messages: more than storage gives with transcripts in one reply (50).
    const stored: MessageInfo[] = [];
    for (let i = 0; i < 53; i++) stored.push((await storeMessage(rig.nc, carol, smallWav(1), { recordedAt: new Date(Date.now() - (60 - i) * 1000) })).message);
    const said = {
      status: 'done',
      text: "Hi Carol, it's <b>Dan</b>, call me back",
      language: 'en',
      engine: 'pocketsphinx',
      at: new Date().toISOString(),
    } as const;
    const none = { status: 'none', reason: 'timed-out', at: new Date().toISOString() } as const;
    await request(rig.nc, StorageApi.setTranscript, { mailbox: carol, id: stored[0]!.id, transcript: said });
    await request(rig.nc, StorageApi.setTranscript, { mailbox: carol, id: stored[52]!.id, transcript: none });

    const list = (await rig.call('GET', `${mailboxPath(carol)}/messages?limit=100`, { token })).json as MessageList;
    assert.equal(list.total, 53);
    assert.equal(list.messages.length, 53, 'the whole page, though storage answers 50 at a time');
    assert.deepEqual(
      list.messages.map((m) => m.id),
      stored.map((m) => m.id).reverse(),
    );
    assert.deepEqual(list.messages.at(-1)?.transcript, said, 'the oldest, from the second part');
    assert.deepEqual(list.messages[0]?.transcript, none);
    assert.equal(list.messages[1]?.transcript, undefined, 'not transcribed: no transcript field');
    const one = (await rig.call('GET', `${mailboxPath(carol)}/messages/${stored[0]!.id}`, { token })).json as MessageView;
    assert.deepEqual(one.transcript, said);
    assert.ok((rig.conformance.document.webhooks as Record<string, unknown>).messageTranscribed);
  });

  it('streams a message as WAV, whole, in byte ranges, conditionally, and for HEAD', async () => {
    const audio = `${ALICE}/messages/${newer.id}/audio`;
    const whole = await rig.call('GET', audio, { token: aliceToken });
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get('content-type'), 'audio/wav');
    assert.equal(whole.headers.get('accept-ranges'), 'bytes');
    assert.deepEqual(whole.bytes, newerWav, 'the bytes storage holds');
    const etag = whole.headers.get('etag')!;

    const middle = await rig.call('GET', audio, { token: aliceToken, headers: { range: 'bytes=1000-1999' } });
    assert.equal(middle.status, 206);
    assert.equal(middle.headers.get('content-range'), `bytes 1000-1999/${newerWav.length}`);
    assert.deepEqual(middle.bytes, newerWav.subarray(1000, 2000));
    // Across storage's 512 KiB chunks is the same as within one; the end of the file by suffix.
    const tail = await rig.call('GET', audio, { token: aliceToken, headers: { range: 'bytes=-100' } });
    assert.deepEqual(tail.bytes, newerWav.subarray(newerWav.length - 100));
    const open = await rig.call('GET', audio, { token: aliceToken, headers: { range: 'bytes=47000-' } });
    assert.deepEqual(open.bytes, newerWav.subarray(47000));

    const beyond = await rig.call('GET', audio, { token: aliceToken, headers: { range: `bytes=${newerWav.length}-` } });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get('content-range'), `bytes */${newerWav.length}`);

    const stale = await rig.call('GET', audio, { token: aliceToken, headers: { range: 'bytes=0-9', 'if-range': '"something-else"' } });
    assert.equal(stale.status, 200, 'If-Range with an old tag: the whole file');
    const current = await rig.call('GET', audio, { token: aliceToken, headers: { range: 'bytes=0-9', 'if-range': etag } });
    assert.equal(current.status, 206);
    assert.deepEqual(current.bytes, newerWav.subarray(0, 10));
    assert.equal((await rig.call('GET', audio, { token: aliceToken, headers: { 'if-none-match': etag } })).status, 304);

    const head = await rig.call('HEAD', audio, { token: aliceToken, headers: { range: 'bytes=0-99' } });
    assert.equal(head.status, 206);
    assert.equal(head.headers.get('content-length'), '100');
    assert.equal(head.bytes.length, 0);
  });

  it('plays through a signed audio link without headers, for that recording only', async () => {
    const list = (await rig.call('GET', `${ALICE}/messages`, { token: aliceToken })).json as MessageList;
    const [first, second] = list.messages as [MessageView, MessageView];
    const played = await rig.call('GET', first.audioUrl);
    assert.equal(played.status, 200);
    assert.equal(played.bytes.length, first.size);
    const link = new URL(first.audioUrl, rig.web.url).searchParams.get('link')!;
    assert.equal((await rig.call('GET', `${ALICE}/messages/${second.id}/audio?link=${link}`)).status, 403, 'another message');
    assert.equal((await rig.call('GET', `${BOB}/messages/${bobs.id}/audio?link=${link}`)).status, 403, 'another mailbox');
    assert.equal((await rig.call('GET', `${ALICE}/messages?link=${link}`)).status, 401, 'a link is no token');
    assert.equal((await rig.call('DELETE', `${ALICE}/messages/${first.id}?link=${link}`)).status, 401);
    const forged = `${link.slice(0, -4)}AAAA`;
    assert.equal((await rig.call('GET', `${ALICE}/messages/${first.id}/audio?link=${forged}`)).status, 401);
  });

  it("never opens one mailbox to another mailbox's token, whatever the route", async () => {
    const tries: [string, string, Parameters<WebRig['call']>[2]?][] = [
      ['GET', `${BOB}/messages`],
      ['GET', `${BOB}/messages/${bobs.id}`],
      ['GET', `${BOB}/messages/${bobs.id}/audio`],
      ['PATCH', `${BOB}/messages/${bobs.id}`, { json: { read: true } }],
      ['DELETE', `${BOB}/messages/${bobs.id}`],
      ['GET', `${BOB}/greetings`],
      ['GET', `${BOB}/greetings/vm`],
      ['PUT', `${BOB}/greetings/vm`, { body: toneWav(500, 1000), headers: { 'content-type': 'audio/wav' } }],
      ['DELETE', `${BOB}/greetings/vm`],
    ];
    for (const [method, path, call] of tries) {
      const reply = await rig.call(method, path, { ...call, token: aliceToken });
      assert.equal(reply.status, 403, `${method} ${path}`);
      assert.doesNotMatch(reply.bytes.toString(), /carol|\+4930123456/, 'nothing of the mailbox in the answer');
    }
    assert.equal((await request(rig.nc, StorageApi.getMessage, { mailbox: bob, id: bobs.id })).message.read, false, "bob's message untouched");
    assert.equal((await rig.call('GET', `${BOB}/messages`, { token: bobToken })).status, 200);
  });

  it('asks for credentials, refuses wrong ones, and holds tokens to their scopes', async () => {
    const none = await rig.call('GET', `${ALICE}/messages`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.equal((await rig.call('GET', `${ALICE}/messages`, { token: 'svt1.e30.AAAA' })).status, 401);
    assert.equal((await rig.call('GET', `${ALICE}/messages`, { operatorKey: 'x'.repeat(64) })).status, 401);
    assert.equal((await rig.call('GET', `${ALICE}/messages`, { operatorKey: rig.web.operatorKey })).status, 200, 'the operator opens every mailbox');
    assert.equal((await rig.call('POST', '/api/v1/tokens', { token: aliceToken, json: { mailbox: bob } })).status, 403, 'only the operator issues tokens');

    const readOnly = await rig.web.issueToken(alice, { scopes: ['messages:read'] });
    assert.equal((await rig.call('GET', `${ALICE}/messages`, { token: readOnly })).status, 200);
    assert.equal((await rig.call('DELETE', `${ALICE}/messages/${older.id}`, { token: readOnly })).status, 403);
    assert.equal((await rig.call('GET', `${ALICE}/greetings`, { token: readOnly })).status, 403);
    const me = await rig.call('GET', '/api/v1/me', { token: readOnly });
    assert.deepEqual((me.json as { scopes: string[] }).scopes, ['messages:read']);

    const tooLong = await rig.call('POST', '/api/v1/tokens', { operatorKey: rig.web.operatorKey, json: { mailbox: alice, ttlSeconds: 400 * 86_400 } });
    assert.equal(tooLong.status, 400);
    assert.equal((await rig.call('POST', '/api/v1/tokens', { operatorKey: rig.web.operatorKey, json: { mailbox: { did: '../etc', uid: 'x' } } })).status, 400);
    assert.equal((await rig.call('GET', '/api/v1/mailboxes/example.org/..%2Fbob/messages', { token: aliceToken })).status, 400);
  });

  it("withdraws a mailbox's tokens at once and on every instance, and issues new ones right after", async () => {
    const carol = { did: 'example.org', uid: 'carol' };
    const CAROL = mailboxPath(carol);
    const sameSecrets = { NATS_URL: rig.nats.url, WEB_OPERATOR_KEY: rig.web.operatorKey, WEB_TOKEN_SECRET: rig.web.tokenSecret };
    const statusOn = (web: { url: string }, token: string) =>
      fetch(`${web.url}${CAROL}/messages`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
    const old = await rig.web.issueToken(carol);
    const second = await startWebService(sameSecrets);
    try {
      assert.equal(await statusOn(second, old), 200, 'another instance accepts the token');
      assert.equal((await rig.call('DELETE', `${CAROL}/tokens`, { token: old })).status, 403, 'a token cannot do it');
      const withdrawn = await rig.call('DELETE', `${CAROL}/tokens`, { operatorKey: rig.web.operatorKey });
      assert.equal(withdrawn.status, 200);
      const refused = await rig.call('GET', `${CAROL}/messages`, { token: old });
      assert.equal(refused.status, 401);
      assert.match((refused.json as { detail: string }).detail, /withdrawn/);
      await waitFor(async () => (await statusOn(second, old)) === 401, 5_000, 'the other instance to refuse it too');
      const fresh = await rig.web.issueToken(carol);
      assert.equal((await rig.call('GET', `${CAROL}/messages`, { token: fresh })).status, 200, 'a token issued after it works at once');
      assert.equal(await statusOn(second, fresh), 200);
      assert.equal((await rig.call('GET', `${ALICE}/messages`, { token: aliceToken })).status, 200, 'other mailboxes keep theirs');
    } finally {
      await second.stop();
    }
    const third = await startWebService(sameSecrets);
    try {
      assert.equal(await statusOn(third, old), 401, 'an instance started later knows the withdrawal from the start');
    } finally {
      await third.stop();
    }
  });

  it('treats the mailbox domain case-insensitively, in tokens and in paths', async () => {
    const shouting = await rig.web.issueToken({ did: 'EXAMPLE.Org', uid: 'alice' });
    assert.equal((await rig.call('GET', `${ALICE}/messages`, { token: shouting })).status, 200);
    const list = await rig.call('GET', '/api/v1/mailboxes/Example.ORG/alice/messages', { token: aliceToken });
    assert.equal(list.status, 200);
    assert.equal((list.json as MessageList).total, 2, 'the same mailbox');
    assert.equal((await rig.call('GET', '/api/v1/mailboxes/example.org/Alice/messages', { token: aliceToken })).status, 403, 'the user part is exact');
  });

  it('marks read and unread and deletes through storage, so the mailbox events MWI follows are published', async () => {
    const read = await rig.call('PATCH', `${ALICE}/messages/${older.id}`, { token: aliceToken, json: { read: true } });
    assert.equal(read.status, 200);
    assert.deepEqual((read.json as { counts: unknown }).counts, { new: 1, saved: 1, urgentNew: 1, urgentSaved: 0 });
    await waitFor(() => rig.events.some((e) => e.change === 'message-read' && e.messageId === older.id), 5_000, 'the message-read event');
    const unread = await rig.call('PATCH', `${ALICE}/messages/${older.id}`, { token: aliceToken, json: { read: false } });
    assert.deepEqual((unread.json as { counts: unknown }).counts, { new: 2, saved: 0, urgentNew: 1, urgentSaved: 0 });
    await waitFor(() => rig.events.some((e) => e.change === 'message-unread' && e.messageId === older.id), 5_000, 'the message-unread event');
    assert.equal(
      (
        await rig.call('PATCH', `${ALICE}/messages/${older.id}`, {
          token: aliceToken,
          body: 'read=true',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        })
      ).status,
      415,
    );
    assert.equal((await rig.call('PATCH', `${ALICE}/messages/${older.id}`, { token: aliceToken, json: { read: 'yes' } })).status, 400);

    const deleted = await rig.call('DELETE', `${ALICE}/messages/${older.id}`, { token: aliceToken });
    assert.deepEqual(deleted.json, { deleted: true, counts: { new: 1, saved: 0, urgentNew: 1, urgentSaved: 0 } });
    await waitFor(() => rig.events.some((e) => e.change === 'message-deleted' && e.messageId === older.id), 5_000, 'the message-deleted event');
    assert.equal((await rig.call('GET', `${ALICE}/messages/${older.id}`, { token: aliceToken })).status, 404);
    assert.equal((await rig.call('GET', `${ALICE}/messages/${older.id}/audio`, { token: aliceToken })).status, 404);
    assert.deepEqual((await rig.call('DELETE', `${ALICE}/messages/${older.id}`, { token: aliceToken })).json, {
      deleted: false,
      counts: { new: 1, saved: 0, urgentNew: 1, urgentSaved: 0 },
    });
  });

  it('answers 413 to an upload too large while its client is still sending it, announced or not, and stays up', async () => {
    // 64 MB: more than loopback's socket buffers hold, so the client is still writing when the
    // answer comes. A connection closed at once would reset it (fetch: EPIPE) and hide the 413.
    const huge = Buffer.concat([wavHeader(64 * 1024 * 1024), Buffer.alloc(64 * 1024 * 1024)]);
    const put = (body: Buffer | ReadableStream<Uint8Array>) =>
      fetch(`${rig.web.url}${ALICE}/greetings/away`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${aliceToken}`, 'content-type': 'audio/wav' },
        body,
        duplex: 'half',
      } as RequestInit);
    const announced = await put(huge);
    assert.equal(announced.status, 413);
    assert.match(((await announced.json()) as { detail: string }).detail, /larger than/);
    // Chunked, without Content-Length: refused when the limit is passed, mid-body.
    let offset = 0;
    const streamed = await put(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          if (offset >= huge.length) return controller.close();
          controller.enqueue(huge.subarray(offset, offset + 256 * 1024));
          offset += 256 * 1024;
        },
      }),
    );
    assert.equal(streamed.status, 413);
    await streamed.arrayBuffer();
    assert.equal((await rig.call('GET', `${ALICE}/greetings/away`, { token: aliceToken })).status, 404, 'nothing was kept');
  });

  it('uploads, plays and deletes greetings per type, refusing what is not an 8 kHz mono 16-bit WAV', async () => {
    const before = (await rig.call('GET', `${ALICE}/greetings`, { token: aliceToken })).json as { greetings: { type: string; exists: boolean }[] };
    assert.deepEqual(
      before.greetings.map((g) => [g.type, g.exists]),
      [
        ['vm', false],
        ['busy', false],
        ['away', false],
        ['temp', false],
        ['name', false],
      ],
    );
    assert.equal((await rig.call('GET', `${ALICE}/greetings/busy`, { token: aliceToken })).status, 404);

    const hifi = toneWav(440, 1000);
    hifi.writeUInt32LE(44_100, 24);
    const refusedFormat = await rig.call('PUT', `${ALICE}/greetings/busy`, { token: aliceToken, body: hifi, headers: { 'content-type': 'audio/wav' } });
    assert.equal(refusedFormat.status, 400);
    assert.match((refusedFormat.json as { detail: string }).detail, /8000 Hz/);
    assert.equal(
      (await rig.call('PUT', `${ALICE}/greetings/busy`, { token: aliceToken, body: toneWav(440, 1000), headers: { 'content-type': 'audio/mpeg' } })).status,
      415,
    );
    const huge = Buffer.concat([wavHeader(16_000 * 130), Buffer.alloc(16_000 * 130)]);
    assert.equal((await rig.call('PUT', `${ALICE}/greetings/busy`, { token: aliceToken, body: huge, headers: { 'content-type': 'audio/wav' } })).status, 413);

    const greeting = toneWav(660, 1500);
    const saved = await rig.call('PUT', `${ALICE}/greetings/busy`, { token: aliceToken, body: greeting, headers: { 'content-type': 'audio/wav' } });
    assert.equal(saved.status, 200);
    assert.equal((saved.json as { greeting: { size: number } }).greeting.size, greeting.length);
    const played = await rig.call('GET', `${ALICE}/greetings/busy`, { token: aliceToken });
    assert.deepEqual(played.bytes, greeting);
    const list = (await rig.call('GET', `${ALICE}/greetings`, { token: aliceToken })).json as {
      greetings: { type: string; exists: boolean; audioUrl?: string }[];
    };
    const busy = list.greetings.find((g) => g.type === 'busy')!;
    assert.equal(busy.exists, true);
    assert.deepEqual((await rig.call('GET', busy.audioUrl!)).bytes, greeting, 'the link plays it');
    assert.equal(rig.events.filter((e) => e.mailbox.uid === 'alice' && !e.change.startsWith('message-')).length, 0, 'greetings are not mailbox events');

    assert.deepEqual((await rig.call('DELETE', `${ALICE}/greetings/busy`, { token: aliceToken })).json, { deleted: true });
    assert.equal((await rig.call('GET', `${ALICE}/greetings/busy`, { token: aliceToken })).status, 404);
  });

  it('records the temporary greeting with its end, and refuses one without (or an end for another type)', async () => {
    const put = (type: string, query = '') =>
      rig.call('PUT', `${ALICE}/greetings/${type}${query}`, { token: aliceToken, body: toneWav(550, 1000), headers: { 'content-type': 'audio/wav' } });
    assert.equal((await put('temp')).status, 400, 'no end');
    assert.equal((await put('temp', '?until=tomorrow')).status, 400, 'not a time');
    assert.equal((await put('busy', `?until=${new Date(Date.now() + 86_400_000).toISOString()}`)).status, 400, 'an end for another type');
    const until = new Date(Date.now() + 3 * 86_400_000).toISOString();
    const saved = await put('temp', `?until=${encodeURIComponent(until)}`);
    assert.equal(saved.status, 200);
    assert.equal((saved.json as { greeting: { until: string } }).greeting.until, until);
    const list = (await rig.call('GET', `${ALICE}/greetings`, { token: aliceToken })).json as {
      greetings: { type: string; exists: boolean; until?: string }[];
    };
    assert.deepEqual(
      list.greetings.find((g) => g.type === 'temp'),
      { ...list.greetings.find((g) => g.type === 'temp'), exists: true, until },
    );
    // What callers hear: the temporary greeting, whichever type the proxy asks for, until its end.
    const resolved = await request(rig.nc, StorageApi.resolveGreeting, { mailbox: alice, type: 'busy' });
    assert.equal(resolved.greeting.kind === 'greeting' && resolved.greeting.type, 'temp');
    assert.equal(resolved.validUntil, until);
    assert.deepEqual((await rig.call('DELETE', `${ALICE}/greetings/temp`, { token: aliceToken })).json, { deleted: true });
  });

  it('forwards a message to another mailbox of the domain: a new message there, counted; a full one is refused', async () => {
    const forward = (token: string, from: string, id: string, to: string) => rig.call('POST', `${from}/messages/${id}/forward`, { token, json: { to } });
    const carols = (await storeMessage(rig.nc, alice, smallWav(1), { sender: 'sip:carol@example.net' })).message;
    const forwarded = await forward(aliceToken, ALICE, carols.id, 'forward-target');
    assert.equal(forwarded.status, 201);
    const { forwarded: copy } = forwarded.json as { forwarded: { mailbox: { did: string; uid: string }; id: string } };
    assert.deepEqual(copy.mailbox, { did: 'example.org', uid: 'forward-target' });
    const { message } = await request(rig.nc, StorageApi.getMessage, { mailbox: copy.mailbox, id: copy.id });
    assert.equal(message.read, false);
    assert.equal(message.sender, 'sip:carol@example.net');
    assert.deepEqual(message.forwardedFrom, alice);
    await waitFor(
      () => rig.events.some((e) => e.mailbox.uid === 'forward-target' && e.change === 'message-created'),
      5_000,
      'the copy to be a mailbox event (MWI, webhooks)',
    );
    assert.equal((await forward(aliceToken, ALICE, carols.id, 'a/b')).status, 400);
    assert.equal((await forward(aliceToken, ALICE, carols.id, 'alice')).status, 400, 'not to itself');
    assert.equal((await forward(aliceToken, ALICE, older.id, 'forward-target')).status, 404, 'a message that is gone');
    // The same message to the same mailbox again: the one copy.
    assert.equal(((await forward(aliceToken, ALICE, carols.id, 'forward-target')).json as { forwarded: { id: string } }).forwarded.id, copy.id);
    // VM_MAX_MESSAGES is 2 here: the second message fills the mailbox, a third is refused.
    assert.equal((await forward(aliceToken, ALICE, newer.id, 'forward-target')).status, 201);
    assert.equal((await forward(bobToken, BOB, bobs.id, 'forward-target')).status, 409);
    assert.deepEqual((await request(rig.nc, StorageApi.countMailbox, { mailbox: copy.mailbox })).counts, { new: 2, saved: 0, urgentNew: 1, urgentSaved: 0 });
  });

  it('serves the inbox with a strict content security policy and no inline script', async () => {
    const page = await fetch(`${rig.web.url}/`);
    const html = await page.text();
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'every script is a file');
    assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handlers');
    assert.equal((await fetch(`${rig.web.url}/inbox.js`)).headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal((await fetch(`${rig.web.url}/../package.json`)).status, 404);
  });

  it('writes no token, key or audio link into its logs', () => {
    const logs = rig.web.process.output();
    assert.match(logs, /"msg":"http request"/);
    assert.match(logs, /"msg":"mailbox token issued"/);
    for (const secret of [aliceToken, bobToken, rig.web.operatorKey]) assert.ok(!logs.includes(secret));
    assert.doesNotMatch(logs, /svt1\.|sva1\.|link=/);
  });
});

describe('web API rate limits', () => {
  let rig: WebRig;
  before(async () => {
    rig = await startWebRig({ WEB_RATE_PER_TOKEN: '5', WEB_RATE_PER_ADDRESS: '12' });
  });
  after(async () => {
    await rig?.stop();
  });

  it('answers 429 with Retry-After past the per-token limit, then past the per-address limit', async () => {
    const first = await rig.web.issueToken(alice);
    const second = await rig.web.issueToken(alice);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await rig.call('GET', `${ALICE}/messages`, { token: first })).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
    const limited = await rig.call('GET', `${ALICE}/messages`, { token: first });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal((await rig.call('GET', `${ALICE}/messages`, { token: second })).status, 200, 'another token has its own allowance');
    // 2 token requests + 8 above + 1 = 11 from this address so far; the 13th is refused whatever the credentials.
    await rig.call('GET', `${ALICE}/messages`, { token: second });
    const byAddress = await rig.call('GET', '/api/v1/openapi.json');
    assert.equal(byAddress.status, 429);
    assert.ok(Number(byAddress.headers.get('retry-after')) >= 1);
  });
});

describe('web configuration', () => {
  it('refuses to start on a short secret, naming the variable and never the value', () => {
    const secretValue = 'tooshort-operator-key';
    const result = spawnSync(process.execPath, [join(REPO_ROOT, 'services', 'web', 'dist', 'main.js')], {
      env: {
        ...process.env,
        WEB_OPERATOR_KEY: secretValue,
        WEB_TOKEN_SECRET_FILE: '/nonexistent/secret',
        WEBHOOK_URL: 'ftp://x',
        NATS_URL: 'nats://127.0.0.1:1',
      },
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(result.status, 78, result.stderr);
    assert.match(result.stderr, /WEBHOOK_URL \("ftp:\/\/x"\): must be a URL/);
    const secrets = spawnSync(process.execPath, [join(REPO_ROOT, 'services', 'web', 'dist', 'main.js')], {
      env: { ...process.env, WEB_OPERATOR_KEY: secretValue, WEB_TOKEN_SECRET_FILE: '/nonexistent/secret', NATS_URL: 'nats://127.0.0.1:1' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(secrets.status, 78, secrets.stderr);
    assert.match(secrets.stderr, /WEB_OPERATOR_KEY \(value not shown\): must be at least 32 characters/);
    assert.match(secrets.stderr, /WEB_TOKEN_SECRET_FILE \("\/nonexistent\/secret"\): cannot be read \(ENOENT\)/);
    assert.ok(!secrets.stderr.includes(secretValue) && !secrets.stdout.includes(secretValue));
  });

  it('starts with its secrets in files, as Kubernetes and compose mount them, and refuses to start without', async () => {
    const nats = await startNats();
    const dir = await tempDir('web-secrets');
    try {
      const key = randomBytes(32).toString('hex');
      await writeFile(join(dir.path, 'operator-key'), `${key}\n`);
      // Two token secrets: the first signs, the second (the one before a rotation) still verifies.
      await writeFile(join(dir.path, 'token-secret'), `# rotated\n${'n'.repeat(40)}\n${'o'.repeat(40)}\n`);
      const web = await startWebService({
        NATS_URL: nats.url,
        WEB_OPERATOR_KEY: '',
        WEB_TOKEN_SECRET: '',
        WEB_OPERATOR_KEY_FILE: join(dir.path, 'operator-key'),
        WEB_TOKEN_SECRET_FILE: join(dir.path, 'token-secret'),
      });
      const issued = await fetch(`${web.url}/api/v1/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-operator-key': key },
        body: JSON.stringify({ mailbox: alice }),
      });
      assert.equal(issued.status, 201);
      await web.stop();
      const refused = await startWebService({ NATS_URL: nats.url, WEB_OPERATOR_KEY: '' }).catch((error: Error) => error);
      assert.ok(refused instanceof Error, 'no operator key at all: it does not start');
      assert.match(refused.message, /WEB_OPERATOR_KEY_FILE \(unset\): is required \(or WEB_OPERATOR_KEY\)/);
    } finally {
      await dir.remove();
      await nats.close();
    }
  });
});
