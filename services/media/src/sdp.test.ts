import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isServiceError } from '@sipvm/contracts';
import { chooseCodec, parseAudioOffer, sinkAnswer } from './sdp.js';

const offer = (m: string, ...attributes: string[]) =>
  ['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', m, ...attributes, ''].join('\r\n');

test("the caller's first recordable codec wins; static payload types need no rtpmap", () => {
  const parsed = parseAudioOffer(offer('m=audio 4000 RTP/AVP 18 8 0 101', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16'));
  assert.deepEqual(
    parsed.codecs.map((c) => c.name),
    ['G729', 'PCMA', 'PCMU'],
  );
  assert.equal(parsed.telephoneEvent?.payloadType, 101);
  assert.equal(chooseCodec(parsed).name, 'PCMA');
});

test('dynamic codecs keep their rtpmap and fmtp lines in the sink answer', () => {
  const parsed = parseAudioOffer(offer('m=audio 4000 RTP/AVP 111 9', 'a=rtpmap:111 opus/48000/2', 'a=fmtp:111 useinbandfec=1'));
  const codec = chooseCodec(parsed);
  assert.equal(codec.name, 'opus');
  assert.equal(codec.clockRate, 48000);
  const answer = sinkAnswer(codec, parsed.telephoneEvent, { host: '127.0.0.1', port: 5004 }, 1);
  assert.match(answer, /^m=audio 5004 RTP\/AVP 111\r$/m);
  assert.match(answer, /^a=rtpmap:111 opus\/48000\/2\r$/m);
  assert.match(answer, /^a=fmtp:111 useinbandfec=1\r$/m);
  assert.match(answer, /^c=IN IP4 127\.0\.0\.1\r$/m);
});

test('offers media cannot record are refused as bad requests naming the problem', () => {
  assert.throws(
    () => chooseCodec(parseAudioOffer(offer('m=audio 4000 RTP/AVP 18'))),
    (e) => isServiceError(e, 'bad-request') && /G729/.test(e.message),
  );
  assert.throws(
    () => parseAudioOffer(offer('m=video 4000 RTP/AVP 96')),
    (e) => isServiceError(e, 'bad-request') && /m=audio/.test(e.message),
  );
  assert.throws(
    () => parseAudioOffer(offer('m=audio 0 RTP/AVP 0')),
    (e) => isServiceError(e, 'bad-request') && /disabled/.test(e.message),
  );
});
