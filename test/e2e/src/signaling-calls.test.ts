/**
 * Calls through a real drachtio-server, driven by sipp: every reply code of docs/behaviour.md §8,
 * SIP INFO digits reaching the call events, re-INVITE, BYE from either side, and the trust of
 * P-App headers. Media is the real media service with rtpengine, except in the CANCEL test, which
 * needs media to answer late and so uses the FAKE responder (media-fake.ts).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CallEndedEventSchema, CallStartedEventSchema, DigitEventSchema, request, SignalingApi } from '@sipvm/contracts';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '@sipvm/harness';
import { e2eSkipReason, responsesIn, sippReport, useSignalingRig, type SignalingRig } from './rig.js';

const mediaRequests = (rig: SignalingRig, what: 'session.open' | 'session.update' | 'session.close', callRef?: string) =>
  rig.mediaRequests.filter((r) => r.subject.endsWith(what) && (callRef === undefined || r.request.callRef === callRef));

const skip = e2eSkipReason();
const PROXY_PARAMS = "usr=alice;dom=example.org;uid=u-alice;did=d-example;eml='alice@example.org';snd='sip:bob@caller.example.org';lng=de;";

describe('signaling calls through drachtio-server', { skip }, () => {
  const rig = useSignalingRig({}, { applications: 'fake' });

  it('answers OPTIONS with 200', async () => {
    const result = await rig.sipp('options.xml');
    assert.equal(result.exitCode, 0, sippReport(result, rig));
    assert.ok(
      responsesIn(result.messages).some((r) => r.startsWith('200')),
      sippReport(result),
    );
  });

  it("answers a call, passes INFO digits, answers a re-INVITE, and ends everything on the caller's BYE", async () => {
    const result = await rig.sipp('call-info-reinvite-bye.xml', {
      keys: { app_name: 'voicemail', app_param: PROXY_PARAMS, session_expires: '1800;refresher=uac' },
    });
    assert.equal(result.exitCode, 0, sippReport(result, rig));
    // The caller asked for a session timer (RFC 4028) and refreshes it itself.
    const answer = result.messages.split(/-{10,}/).find((m) => /^SIP\/2\.0 200 OK/m.test(m) && /^CSeq: 1 INVITE/m.test(m)) ?? '';
    assert.match(answer, /^Session-Expires: 1800;refresher=uac\r?$/m, sippReport(result));
    assert.match(answer, /^Require: timer\r?$/m);

    const started = CallStartedEventSchema.parse((await rig.waitForEvent((e) => e.subject === 'vm.call.voicemail.started', 'call started')).event);
    assert.deepEqual(
      { ...started.params },
      {
        user: 'alice',
        domain: 'example.org',
        uid: 'u-alice',
        did: 'd-example',
        sender: 'sip:bob@caller.example.org',
        // From: "Bob" <sip:bob@caller.example.org>: a name, no number.
        caller: { name: 'Bob', withheld: false },
        email: 'alice@example.org',
        mode: 'voicemail',
        language: 'de',
        greetingType: 'vm',
        extra: {},
      },
    );
    assert.equal(started.mediaInstance, 'media-e2e');
    assert.equal(started.codec, 'PCMU');
    const mine = (e: { event: Record<string, unknown> }) => e.event.callRef === started.callRef;
    await rig.waitForEvent((e) => e.subject === 'vm.call.voicemail.ended' && mine(e), 'call ended');
    const digits = rig.events.filter((e) => e.subject === 'vm.call.voicemail.digit' && mine(e)).map((e) => DigitEventSchema.parse(e.event));
    assert.deepEqual(
      digits.map((d) => [d.digit, d.source]),
      [
        ['5', 'sip-info'],
        ['#', 'sip-info'],
      ],
    );
    const ended = CallEndedEventSchema.parse(rig.events.find((e) => e.subject === 'vm.call.voicemail.ended' && mine(e))?.event);
    assert.equal(ended.reason, 'caller-hangup');

    // The re-INVITE's offer went to media, and its answer came back in the 200.
    const updates = mediaRequests(rig, 'session.update', started.callRef);
    assert.equal(updates.length, 1);
    assert.match(updates[0]?.request.sdpOffer ?? '', /a=sendonly/);
    const okWithSdp = result.messages.split(/-{10,}/).filter((m) => /^SIP\/2\.0 200 OK/m.test(m) && /^CSeq: 4 INVITE/m.test(m));
    assert.equal(okWithSdp.length >= 1, true, sippReport(result));
    assert.match(okWithSdp[0] ?? '', /^m=audio \d+ RTP\/AVP 0/m, "the re-INVITE was answered with media's SDP");
    assert.equal(mediaRequests(rig, 'session.close', started.callRef).length, 1, 'the media session was closed');
  });

  it('ends the call with BYE when the application hangs up', async () => {
    const running = rig.sipp('call-remote-bye.xml', { keys: { app_name: 'voicebox', app_param: 'usr=carol;dom=example.org' } });
    const started = CallStartedEventSchema.parse(
      (
        await rig.waitForEvent(
          (e) => e.subject === 'vm.call.voicebox.started' && (e.event.params as { user?: string }).user === 'carol',
          'voicebox call started',
        )
      ).event,
    );
    const { ended } = await request(rig.nc, SignalingApi.hangup(started.signalingInstance), { callRef: started.callRef, reason: 'goodbye' });
    assert.equal(ended, true);
    const result = await running;
    assert.equal(result.exitCode, 0, sippReport(result, rig));
    const endedEvent = await rig.waitForEvent((e) => e.subject === 'vm.call.voicebox.ended' && e.event.callRef === started.callRef, 'call ended');
    assert.equal(endedEvent.event.reason, 'app-hangup');
    assert.equal(mediaRequests(rig, 'session.close', started.callRef).length, 1, 'the media session was closed');
    // Idempotent: a second hangup finds no call.
    assert.deepEqual(await request(rig.nc, SignalingApi.hangup(started.signalingInstance), { callRef: started.callRef }), { ended: false });
  });

  const refused = async (scenario: string, keys: Record<string, string>): Promise<string> => {
    const result = await rig.sipp(scenario, { keys });
    assert.equal(result.exitCode, 0, sippReport(result, rig));
    const finals = responsesIn(result.messages).filter((r) => !r.startsWith('1'));
    assert.equal(finals.length >= 1, true, sippReport(result));
    return finals[0] ?? '';
  };

  it('refuses an INVITE without SDP with 488', async () => {
    assert.match(
      await refused('invite-refused-without-sdp.xml', { app_name: 'voicemail', app_param: PROXY_PARAMS }),
      /^488 Not Acceptable Here \(SDP offer required\)/,
    );
  });

  it('refuses a session interval below Min-SE with 422', async () => {
    const result = await rig.sipp('invite-refused-with-sdp.xml', { keys: { app_name: 'voicemail', app_param: PROXY_PARAMS, session_expires: '30' } });
    assert.equal(result.exitCode, 0, sippReport(result, rig));
    assert.ok(responsesIn(result.messages).includes('422 Session Interval Too Small'), sippReport(result));
    assert.match(result.messages, /^Min-SE: 90\r?$/m);
  });

  it('refuses an unknown application with 404 naming it', async () => {
    assert.equal(await refused('invite-refused-with-sdp.xml', { app_name: 'conference', app_param: '' }), '404 Unknown Application "conference" (P-App-Name)');
  });

  it('refuses a request no application matches with 404', async () => {
    assert.equal(await refused('invite-refused-with-sdp.xml', { app_name: '', app_param: '' }), '404 No Application For This Request-URI');
  });

  it('selects the application from the R-URI user when there is no P-App-Name', async () => {
    const result = await rig.sipp('call-info-reinvite-bye.xml', { service: 'voicebox', keys: { app_name: '', app_param: 'dom=example.org' } });
    assert.equal(result.exitCode, 0, sippReport(result, rig));
    await rig.waitForEvent((e) => e.subject === 'vm.call.voicebox.started' && (e.event.params as { user?: string }).user === 'voicebox', 'voicebox call');
  });

  for (const [param, reason] of [
    ['usr=../../etc', /^400 Bad Request \(P-App-Param usr: may contain only letters, digits and/],
    ['uid=a..b', /^400 Bad Request \(P-App-Param uid: must not contain "\.\."\)$/],
    ["eml='a@b.org, c@d.org'", /^400 Bad Request \(P-App-Param eml: must be a single e-mail address/],
    ["usr='unterminated", /^400 Bad Request \(P-App-Param usr: unterminated single quote\)/],
    ['mod=both', /^400 Bad Request \(P-App-Param eml \(or P-Email-Address\) is required in mode both\)/],
  ] as const) {
    it(`refuses bad parameters (${param}) with 400 saying what is wrong`, async () => {
      assert.match(await refused('invite-refused-with-sdp.xml', { app_name: 'voicemail', app_param: param }), reason);
    });
  }
});

describe('CANCEL before the answer (FAKE media that answers late)', { skip }, () => {
  const rig = useSignalingRig({}, { media: 'fake', applications: 'fake' });

  it('answers CANCEL before the answer with 487 and opens no call', async () => {
    const before = rig.events.length;
    const result = await rig.sipp('invite-cancel.xml', {
      keys: { app_name: 'voicemail', app_param: PROXY_PARAMS },
      args: ['-cid_str', 'slow-%u-%p@%s'],
    });
    assert.equal(result.exitCode, 0, sippReport(result, rig));
    assert.ok(
      responsesIn(result.messages).some((r) => r.startsWith('487')),
      sippReport(result),
    );
    const opened = mediaRequests(rig, 'session.open').filter((o) => o.request.callId?.startsWith('slow-'));
    assert.equal(opened.length, 1);
    // The slow media answer arrives after the CANCEL: signaling closes that session, and starts no call.
    await rig.waitFor(() => mediaRequests(rig, 'session.close', opened[0]?.request.callRef).length > 0, 'the late media session to be closed', 10_000);
    assert.equal(mediaRequests(rig, 'session.close', opened[0]?.request.callRef).length, 1, 'the late media session was closed once');
    assert.equal(rig.events.slice(before).filter((e) => e.subject.endsWith('.started')).length, 0, 'no call started');
  });
});

describe('a call no application takes (no voicemail instance subscribed)', { skip }, () => {
  const rig = useSignalingRig({ APP_START_TIMEOUT_MS: '2000' }, { media: 'fake', applications: 'none' });

  it('is refused with 503 and Retry-After, never answered, and its end is published for an instance that took it late', async () => {
    const result = await rig.sipp('invite-refused-with-sdp.xml', { keys: { app_name: 'voicemail', app_param: PROXY_PARAMS } });
    assert.equal(result.exitCode, 0, sippReport(result, rig));
    const finals = responsesIn(result.messages).filter((r) => !r.startsWith('1'));
    assert.deepEqual(finals, ['503 Service Unavailable (application)'], sippReport(result));
    assert.match(result.messages, /^Retry-After: \d+\r?$/m);
    const offered = rig.events.find((e) => e.subject === 'vm.call.voicemail.started');
    assert.ok(offered, 'the call was offered to voicemail');
    const callRef = CallStartedEventSchema.parse(offered.event).callRef;
    const ended = await rig.waitForEvent((e) => e.subject === 'vm.call.voicemail.ended' && e.event.callRef === callRef, 'the end of the call');
    assert.equal(CallEndedEventSchema.parse(ended.event).reason, 'error');
    await rig.waitFor(() => mediaRequests(rig, 'session.close', callRef).length === 1, 'the media session to be closed');
    assert.match(rig.signaling.output(), /"msg":"no application instance took the call"/);
  });
});

describe('P-App headers from an untrusted source', { skip }, () => {
  for (const policy of ['refuse', 'ignore'] as const) {
    describe(`UNTRUSTED_APP_HEADERS=${policy}`, () => {
      // sipp calls from 127.0.0.1, which is not the trusted proxy here. Such a caller reaches no
      // mailbox application (hostile/trust.test.ts); to see its headers ignored, it may leave a
      // message here (UNTRUSTED_CALLS=voicemail; mode box needs no e-mail address).
      const rig = useSignalingRig(
        {
          TRUSTED_PROXIES: '192.0.2.10',
          UNTRUSTED_APP_HEADERS: policy,
          ...(policy === 'ignore' ? { UNTRUSTED_CALLS: 'voicemail', DEFAULT_MODE: 'box' } : {}),
        },
        { applications: 'fake' },
      );
      if (policy === 'refuse') {
        it('refuses the call with 403', async () => {
          const result = await rig.sipp('invite-refused-with-sdp.xml', { keys: { app_name: 'voicemail', app_param: 'usr=mallory;eml=m@evil.example' } });
          assert.equal(result.exitCode, 0, sippReport(result, rig));
          assert.ok(responsesIn(result.messages).includes('403 Forbidden (P-App headers from untrusted source)'), sippReport(result));
          assert.equal(rig.events.length, 0);
        });
      } else {
        it('ignores the headers: the R-URI decides, and the parameters are the defaults', async () => {
          const result = await rig.sipp('call-info-reinvite-bye.xml', {
            service: 'voicemail',
            keys: { app_name: 'voicebox', app_param: 'usr=mallory;dom=evil.example;mod=both' },
          });
          assert.equal(result.exitCode, 0, sippReport(result, rig));
          const started = CallStartedEventSchema.parse((await rig.waitForEvent((e) => e.subject.endsWith('.started'), 'call started')).event);
          assert.equal(started.app, 'voicemail');
          assert.equal(started.params.user, 'voicemail');
          assert.equal(started.params.domain, '127.0.0.1');
          assert.equal(started.params.mode, 'box');
        });
      }
    });
  }
});

describe('application from the mapping file (APP_MAPPING_FILE)', { skip }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
  const rig = useSignalingRig(
    async () => {
      dir = await tempDir('signaling-mapping');
      const file = join(dir.path, 'apps.map');
      await writeFile(file, '# access numbers\n^sip:1001@ => annrecorder\n^sip:(voicebox)-[0-9]+@ => \\1\n');
      return { APP_MAPPING_FILE: file, APP_FALLBACKS: 'mapping' };
    },
    { applications: 'fake' },
  );
  after(async () => {
    await dir?.remove();
  });

  it('maps the R-URI to an application, capture groups included', async () => {
    for (const [service, app] of [
      ['1001', 'annrecorder'],
      ['voicebox-7', 'voicebox'],
    ] as const) {
      const result = await rig.sipp('call-info-reinvite-bye.xml', { service, keys: { app_param: 'dom=example.org' } });
      assert.equal(result.exitCode, 0, sippReport(result, rig));
      const started = await rig.waitForEvent((e) => e.subject === `vm.call.${app}.started`, `${app} call`);
      assert.equal((started.event.params as { user?: string }).user, service);
    }
  });
});

describe('ann mode with early media (ANN_EARLY_MEDIA=true)', { skip }, () => {
  const rig = useSignalingRig({ ANN_EARLY_MEDIA: 'true', ANN_EARLY_MEDIA_TIMEOUT_MS: '3000' }, { applications: 'fake' });

  it('sends 183 with SDP, then the final reply the application asks for', async () => {
    const running = rig.sipp('invite-early-media-405.xml', { keys: { app_param: 'usr=erin;dom=example.org;mod=ann' } });
    const started = CallStartedEventSchema.parse(
      (await rig.waitForEvent((e) => e.subject === 'vm.call.voicemail.started' && (e.event.params as { user?: string }).user === 'erin', 'ann call')).event,
    );
    assert.equal(started.params.mode, 'ann');
    assert.deepEqual(started.finalReply, { code: 405, reason: 'Prohibited' });
    const { sent } = await request(rig.nc, SignalingApi.finalReply(started.signalingInstance), { callRef: started.callRef, code: 405, reason: 'Prohibited' });
    assert.equal(sent, true);
    const result = await running;
    assert.equal(result.exitCode, 0, sippReport(result, rig));
    assert.ok(responsesIn(result.messages).includes('405 Prohibited'), sippReport(result));
    assert.match(result.messages.split(/-{10,}/).find((m) => /^SIP\/2\.0 183/m.test(m)) ?? '', /^m=audio /m, '183 carries the SDP answer');
    const ended = await rig.waitForEvent((e) => e.subject === 'vm.call.voicemail.ended' && e.event.callRef === started.callRef, 'call ended');
    assert.equal(ended.event.reason, 'app-hangup');
    assert.equal(mediaRequests(rig, 'session.close', started.callRef).length, 1);
  });

  it('sends the final reply by itself when the application does not finish in time', async () => {
    const result = await rig.sipp('invite-early-media-405.xml', { keys: { app_param: 'usr=frank;dom=example.org;mod=3' } });
    assert.equal(result.exitCode, 0, sippReport(result, rig));
    const started = rig.events.find((e) => e.subject === 'vm.call.voicemail.started' && (e.event.params as { user?: string }).user === 'frank');
    const ended = await rig.waitForEvent((e) => e.subject === 'vm.call.voicemail.ended' && e.event.callRef === started?.event.callRef, 'call ended');
    assert.equal(ended.event.reason, 'media-timeout');
  });
});
