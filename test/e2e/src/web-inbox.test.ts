/**
 * The web inbox in headless Chromium, end to end: the real web service in front of the real
 * storage service on a real nats-server, real stored messages, the page's own script. A message
 * is played to its end in the browser; greetings are recorded from a (fake) microphone playing a
 * known tone and uploaded from a file, and what storage then holds is checked down to the tone.
 * With signaling and drachtio-server too, a delete made in the browser reaches a subscribed
 * phone (sipp) as an MWI NOTIFY.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Page } from 'playwright-core';
import axe from 'axe-core';
import {
  MWI_SUBSCRIPTIONS_BUCKET,
  MwiSubscriptionSchema,
  readAudio,
  request,
  scanWav,
  StorageApi,
  wavHeader,
  type AudioRef,
  type Mailbox,
  type MessageInfo,
} from '@sipvm/contracts';
import {
  smallWav,
  startNats,
  startService,
  startWebService,
  storeMessage,
  tempDir,
  toneWav,
  type NatsServer,
  type RunningServiceProcess,
  type RunningWebService,
} from '@sipvm/harness';
import { browserSkipReason, openBrowser, type Browser } from './browser.js';
import { e2eSkipReason, sippReport, useSignalingRig } from './rig.js';

const alice: Mailbox = { did: 'example.org', uid: 'alice' };

/** The part of an <audio> element the test uses (the tests compile without the DOM's types). */
interface AudioElement {
  currentTime: number;
  duration: number;
  addEventListener(type: string, listener: () => void, options?: { once: boolean }): void;
}

/** The stored audio, checked to be the platform's WAV, and the frequency of its tone (zero crossings). */
async function storedTone(nc: NatsConnection, ref: AudioRef): Promise<{ seconds: number; hz: number }> {
  const parts: Uint8Array[] = [];
  for await (const chunk of readAudio(nc, ref)) parts.push(chunk);
  const wav = Buffer.concat(parts);
  const layout = scanWav(wav, 'stored audio');
  assert.ok(layout);
  assert.deepEqual([layout.sampleRate, layout.channels, layout.bitsPerSample], [8000, 1, 16], 'stored as 8 kHz mono 16-bit');
  const samples = new Int16Array(wav.buffer.slice(wav.byteOffset + layout.dataOffset, wav.byteOffset + wav.length));
  // The middle, away from the fades and the recorder's start-up.
  const from = Math.floor(samples.length * 0.25);
  const to = Math.floor(samples.length * 0.75);
  let crossings = 0;
  for (let i = from + 1; i < to; i++) if (samples[i - 1]! < 0 !== samples[i]! < 0) crossings++;
  return { seconds: samples.length / 8000, hz: crossings / 2 / ((to - from) / 8000) };
}

async function openInbox(page: Page, web: RunningWebService, token: string): Promise<void> {
  await page.goto(`${web.url}/#token=${token}`);
  await page.locator('body[data-ready="true"]').waitFor({ timeout: 15_000 });
}

const skipBrowser = browserSkipReason();

describe('the web inbox in the browser', { skip: skipBrowser }, () => {
  let nats: NatsServer;
  let storage: RunningServiceProcess;
  let web: RunningWebService;
  let nc: NatsConnection;
  let browser: Browser;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let older: MessageInfo;
  let newer: MessageInfo;
  let withheld: MessageInfo;

  before(async () => {
    nats = await startNats();
    dir = await tempDir('inbox');
    storage = await startService('storage', { NATS_URL: nats.url, STORAGE_BACKEND: 'local', STORAGE_DIR: join(dir.path, 'storage') });
    web = await startWebService({ NATS_URL: nats.url });
    nc = await nats.connect();
    // A sender who tries markup: the page must show it as text.
    older = (
      await storeMessage(nc, alice, smallWav(1), {
        recordedAt: new Date(Date.now() - 3_600_000),
        sender: '<img src=x onerror="document.body.dataset.owned=1">',
      })
    ).message;
    withheld = (
      await storeMessage(nc, alice, smallWav(2), {
        recordedAt: new Date(Date.now() - 60_000),
        sender: 'sip:anonymous@anonymous.invalid',
        caller: { withheld: true },
      })
    ).message;
    newer = (
      await storeMessage(nc, alice, toneWav(440, 2500), {
        sender: 'sip:+4930123456@carrier.example',
        caller: { name: 'Bob Smith', number: '+4930123456', numberText: '030 123456', withheld: false },
      })
    ).message;
    // The fake microphone plays a 440 Hz tone.
    await writeFile(join(dir.path, 'microphone.wav'), toneWav(440, 10_000));
    browser = await openBrowser({ microphoneWav: join(dir.path, 'microphone.wav') });
  });
  after(async () => {
    await browser?.close();
    await nc?.close();
    await web?.stop();
    await storage?.stop();
    await nats?.close();
    await dir?.remove();
  });

  it("opens from the operator's link, takes the token out of the address bar and lists the mailbox, markup as text", async () => {
    const page = await browser.context.newPage();
    await openInbox(page, web, await web.issueToken(alice));
    assert.equal(new URL(page.url()).hash, '', 'the token is gone from the address bar');
    assert.equal(await page.locator('#mailbox').textContent(), 'Mailbox alice@example.org');
    assert.equal(await page.locator('#counts').textContent(), '3 new messages, 0 saved messages');
    const items = page.locator('#message-list > li');
    assert.deepEqual(await items.evaluateAll((li) => li.map((e) => e.getAttribute('data-id'))), [newer.id, withheld.id, older.id]);
    assert.match((await items.nth(2).locator('h3').textContent()) ?? '', /^<img src=x onerror="document\.body\.dataset\.owned=1">/);
    assert.equal(await page.locator('#message-list img').count(), 0, 'no element was made from the sender');
    assert.equal(await page.locator('body').getAttribute('data-owned'), null, 'no script of the sender ran');
    await page.close();
  });

  it('shows callers as people and every length before anything is played', async () => {
    const page = await browser.context.newPage();
    await openInbox(page, web, await web.issueToken(alice));
    const bob = page.locator(`li[data-id="${newer.id}"]`);
    assert.match((await bob.locator('h3').textContent()) ?? '', /^Bob Smith \(030 123456\)/);
    assert.match((await page.locator(`li[data-id="${withheld.id}"] h3`).textContent()) ?? '', /^Withheld number/);
    assert.match((await bob.locator('p').first().textContent()) ?? '', / · 3 seconds$/);
    // From the message's metadata, with nothing of the audio fetched yet.
    assert.equal(await bob.locator('.time').textContent(), '0:00 / 0:03');
    assert.equal(await page.locator(`li[data-id="${withheld.id}"] .time`).textContent(), '0:00 / 0:02');
    assert.equal(await bob.locator('button.play').getAttribute('aria-label'), 'Play the message from Bob Smith (030 123456)');
    await page.close();
  });

  it('names greetings by what they do', async () => {
    const page = await browser.context.newPage();
    await openInbox(page, web, await web.issueToken(alice));
    const titles = await page.locator('.greeting').evaluateAll((boxes) => boxes.map((b) => [b.getAttribute('data-type'), b.querySelector('h3')?.textContent]));
    assert.deepEqual(titles, [
      ['vm', 'Standard greeting'],
      ['busy', 'When you are busy'],
      ['away', 'Greeting “away”'],
      ['temp', 'Temporary greeting'],
      ['name', 'Your name'],
    ]);
    await page.close();
  });

  it('opens a link pasted into a tab that shows the sign-in page', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${web.url}/`);
    await page.locator('#sign-in:not([hidden])').waitFor();
    // The same page with a fragment: the browser does not load it again.
    await page.goto(`${web.url}/#token=${await web.issueToken(alice)}`);
    await page.locator('body[data-ready="true"]').waitFor({ timeout: 15_000 });
    assert.equal(await page.locator('#sign-in').isHidden(), true);
    assert.equal(await page.locator('#mailbox').textContent(), 'Mailbox alice@example.org');
    assert.equal(new URL(page.url()).hash, '', 'the token is gone from the address bar');
    await page.close();
  });

  it('signs out leaving nothing of the mailbox in the page, and a link opened in the same tab lists it again', async () => {
    const page = await browser.context.newPage();
    await openInbox(page, web, await web.issueToken(alice));
    assert.equal(await page.locator('#message-list > li').count(), 3);
    await page.locator('#sign-out').click();
    await page.locator('#sign-in:not([hidden])').waitFor();
    assert.equal(await page.locator('#message-list > li').count(), 0, 'no message is kept, even hidden');
    assert.equal(await page.locator('.greeting').count(), 0, 'no greeting is kept');
    assert.equal(await page.locator('#mailbox').textContent(), '');
    assert.equal(await page.locator('#counts').textContent(), '');
    assert.equal(await page.evaluate('sessionStorage.length'), 0, 'the token is gone from the tab');
    assert.equal(await page.locator('body').getAttribute('data-ready'), null, 'the inbox is not shown as ready');
    await openInbox(page, web, await web.issueToken(alice));
    assert.equal(await page.locator('#message-list > li').count(), 3);
    await page.close();
  });

  it("fits a phone's screen and passes an accessibility audit (axe-core), light and dark, signed in and out", async () => {
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 360, height: 740 });
    const audit = async (what: string) => {
      // Through the debugging protocol: the page's Content-Security-Policy refuses inline scripts, rightly.
      await page.evaluate(`${axe.source}\n;0`);
      const result = (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] })`)) as axe.AxeResults;
      const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      assert.deepEqual(
        serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary ?? ''}`).join('; ')})`),
        [],
        what,
      );
    };
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      await page.goto(`${web.url}/`);
      await page.locator('#sign-in:not([hidden])').waitFor();
      await audit(`the sign-in page, ${colorScheme}`);
      await openInbox(page, web, await web.issueToken(alice));
      await audit(`the inbox, ${colorScheme}`);
      const width = await page.evaluate('document.documentElement.scrollWidth');
      assert.ok(Number(width) <= 360, `nothing wider than the phone's screen (${String(width)} px)`);
      await page.locator('#sign-out').click();
    }
    await openInbox(page, web, await web.issueToken(alice));
    const small = await page
      .locator('button:visible')
      .evaluateAll((buttons) => buttons.filter((b) => b.getBoundingClientRect().height < 44).map((b) => b.textContent));
    assert.deepEqual(small, [], 'every button is a 44 px touch target');
    await page.close();
  });

  it('plays a message from the keyboard', async () => {
    const page = await browser.context.newPage();
    await openInbox(page, web, await web.issueToken(alice));
    const item = page.locator(`li[data-id="${older.id}"]`);
    await item.locator('button.play').focus();
    await page.keyboard.press('Enter');
    await item.locator('button.play', { hasText: 'Pause' }).waitFor({ timeout: 5_000 });
    await page.keyboard.press('Space');
    await item.locator('button.play', { hasText: 'Play' }).waitFor({ timeout: 5_000 });
    await item.locator('button', { hasText: 'Mark as new' }).waitFor({ timeout: 5_000 });
    assert.equal((await request(nc, StorageApi.getMessage, { mailbox: alice, id: older.id })).message.read, true, 'heard, in storage');
    await item.locator('button', { hasText: 'Mark as new' }).click();
    await item.locator('button', { hasText: 'Mark as heard' }).waitFor({ timeout: 5_000 });
    await page.close();
  });

  it('plays a stored message to its end, which marks it heard', async () => {
    const page = await browser.context.newPage();
    await openInbox(page, web, await web.issueToken(alice));
    const item = page.locator(`li[data-id="${newer.id}"]`);
    // Watch the <audio> element from before the click on the page's own Play button.
    await item.locator('audio').evaluate((element) => {
      const audio = element as unknown as AudioElement;
      const timeUpdates: number[] = [];
      audio.addEventListener('timeupdate', () => timeUpdates.push(audio.currentTime));
      (globalThis as unknown as { played: Promise<unknown> }).played = new Promise((resolve) =>
        audio.addEventListener('ended', () => resolve({ currentTime: audio.currentTime, duration: audio.duration, timeUpdates: timeUpdates.length }), {
          once: true,
        }),
      );
    });
    await item.locator('button.play').click();
    const played = (await page.evaluate('globalThis.played')) as { currentTime: number; duration: number; timeUpdates: number };
    assert.ok(Math.abs(played.duration - 2.5) < 0.05, `the browser read a 2.5 s message (${played.duration})`);
    assert.ok(played.currentTime >= 2.4, `it played to the end (${played.currentTime} s)`);
    assert.ok(played.timeUpdates >= 3, 'time advanced while it played');
    await item.locator('button', { hasText: 'Mark as new' }).waitFor({ timeout: 5_000 });
    assert.equal((await request(nc, StorageApi.getMessage, { mailbox: alice, id: newer.id })).message.read, true, 'heard, in storage');
    assert.equal(await page.locator('#counts').textContent(), '2 new messages, 1 saved message');

    await item.locator('button', { hasText: 'Mark as new' }).click();
    await item.locator('button', { hasText: 'Mark as heard' }).waitFor({ timeout: 5_000 });
    assert.equal((await request(nc, StorageApi.getMessage, { mailbox: alice, id: newer.id })).message.read, false, 'new again, in storage');
    await page.close();
  });

  it('records a greeting from the microphone as an 8 kHz mono WAV that holds what was said', async () => {
    const page = await browser.context.newPage();
    await openInbox(page, web, await web.issueToken(alice));
    const vm = page.locator('.greeting[data-type="vm"]');
    await vm.locator('button', { hasText: 'Record' }).click();
    await page.locator('#status', { hasText: 'Recording' }).waitFor();
    // The length of the recording, not a wait for something to happen.
    await page.waitForTimeout(2_000);
    await vm.locator('button', { hasText: 'Stop recording' }).click();
    await vm.locator('button', { hasText: 'Keep this recording' }).click();
    await page.locator('#status', { hasText: 'saved as your vm greeting' }).waitFor({ timeout: 10_000 });
    const tone = await storedTone(nc, { kind: 'greeting', mailbox: alice, type: 'vm' });
    assert.ok(tone.seconds > 1.5 && tone.seconds < 4, `about two seconds recorded (${tone.seconds.toFixed(2)} s)`);
    assert.ok(Math.abs(tone.hz - 440) < 15, `the microphone's 440 Hz tone (${tone.hz.toFixed(1)} Hz)`);
    assert.equal(await vm.locator('audio').count(), 1, 'the page offers the new greeting to play');
    assert.equal(await vm.locator('.time').textContent(), `0:00 / 0:0${Math.round(tone.seconds)}`, 'its length, before it is played');
    await page.close();
  });

  it('uploads a greeting from a file in another format, converted in the browser', async () => {
    const page = await browser.context.newPage();
    await openInbox(page, web, await web.issueToken(alice));
    // 16 kHz stereo, 1.5 s of 880 Hz: not what the platform stores.
    const frames = 24_000;
    const pcm = Buffer.alloc(frames * 4);
    for (let i = 0; i < frames; i++) {
      const sample = Math.round(12_000 * Math.sin((2 * Math.PI * 880 * i) / 16_000));
      pcm.writeInt16LE(sample, i * 4);
      pcm.writeInt16LE(sample, i * 4 + 2);
    }
    const header = wavHeader(pcm.length, 16_000);
    header.writeUInt16LE(2, 22);
    header.writeUInt32LE(16_000 * 4, 28);
    header.writeUInt16LE(4, 32);
    await page.locator('#upload-busy').setInputFiles({ name: 'greeting.wav', mimeType: 'audio/wav', buffer: Buffer.concat([header, pcm]) });
    await page.locator('#status', { hasText: 'saved as your busy greeting' }).waitFor({ timeout: 10_000 });
    const tone = await storedTone(nc, { kind: 'greeting', mailbox: alice, type: 'busy' });
    assert.ok(Math.abs(tone.seconds - 1.5) < 0.01, `the whole file (${tone.seconds} s)`);
    assert.ok(Math.abs(tone.hz - 880) < 10, `its 880 Hz tone (${tone.hz.toFixed(1)} Hz)`);

    page.once('dialog', (dialog) => void dialog.accept());
    await page.locator('.greeting[data-type="busy"] button', { hasText: 'Delete greeting' }).click();
    await page.locator('#status', { hasText: 'The busy greeting is deleted.' }).waitFor();
    await assert.rejects(request(nc, StorageApi.getGreeting, { mailbox: alice, type: 'busy' }), /no busy greeting/);
    await page.close();
  });

  it('signs out when the token is refused and keeps nothing of it', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${web.url}/#token=svt1.forged.AAAA`);
    await page.locator('#sign-in:not([hidden])').waitFor();
    assert.match((await page.locator('#status').textContent()) ?? '', /not valid/);
    assert.equal(await page.evaluate('sessionStorage.length'), 0);
    await page.close();
  });
});

const skipSip = e2eSkipReason();

describe('a delete in the browser moves MWI', { skip: skipSip ?? skipBrowser }, () => {
  const rig = useSignalingRig({}, { storage: true, media: 'fake', applications: 'fake' });
  let web: RunningWebService;
  let browser: Browser;

  before(async () => {
    web = await startWebService({ NATS_URL: rig.nats.url });
    browser = await openBrowser();
  });
  after(async () => {
    await browser?.close();
    await web?.stop();
  });

  it('a phone subscribed to the mailbox gets a NOTIFY with the counts after the delete', async () => {
    const grace: Mailbox = { did: 'example.org', uid: 'grace' };
    await storeMessage(rig.nc, grace, smallWav(1), { recordedAt: new Date(Date.now() - 60_000) });
    const { message: doomed } = await storeMessage(rig.nc, grace, smallWav(1));
    const page = await browser.context.newPage();
    await openInbox(page, web, await web.issueToken(grace));

    const phone = rig.sipp('mwi-subscribe.xml', { service: 'grace', timeoutSeconds: 40, keys: { mwi_domain: 'example.org', expires: '600' } });
    const kv = await new Kvm(rig.nc).open(MWI_SUBSCRIPTIONS_BUCKET);
    await rig.waitFor(async () => {
      for await (const key of await kv.keys()) {
        const entry = await kv.get(key);
        if (entry?.operation === 'PUT' && MwiSubscriptionSchema.parse(entry.json()).cseq >= 1) return true;
      }
      return false;
    }, 'the phone to be subscribed and notified of 2 new messages');

    page.once('dialog', (dialog) => void dialog.accept());
    await page.locator(`li[data-id="${doomed.id}"] button`, { hasText: 'Delete' }).click();
    await page.locator('#status', { hasText: 'Message deleted.' }).waitFor();
    assert.equal(await page.locator('#counts').textContent(), '1 new message, 0 saved messages');

    const result = await phone;
    assert.equal(result.exitCode, 0, `${sippReport(result, rig)}\n--- web ---\n${web.process.output().slice(-3000)}`);
    const notifies = result.messages.split(/-{10,}/).filter((m) => /^\s*NOTIFY /m.test(m) && /received/.test(m));
    assert.equal(notifies.length, 3, result.messages);
    assert.match(notifies[0] ?? '', /Messages-Waiting: yes\r?\nMessage-Account: sip:grace@example.org\r?\nVoice-Message: 2\/0 \(0\/0\)/);
    assert.match(
      notifies[1] ?? '',
      /Messages-Waiting: yes\r?\nMessage-Account: sip:grace@example.org\r?\nVoice-Message: 1\/0 \(0\/0\)/,
      'the NOTIFY after the delete',
    );
    assert.match(notifies[2] ?? '', /Subscription-State: terminated/);
    await assert.rejects(request(rig.nc, StorageApi.getMessage, { mailbox: grace, id: doomed.id }), /not in mailbox/);
    await page.close();
  });
});
