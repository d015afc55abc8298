/**
 * A SIP mutation fuzzer's mutator: well-formed requests of the kinds the platform takes (INVITE
 * with P-App headers, R-URI selection, SUBSCRIBE, OPTIONS, stray in-dialog requests), bent by one
 * to three mutations each — flipped bytes, lines dropped, doubled or cut, header values replaced
 * by hostile text, P-App-Param and R-URI rewritten, lying Content-Length, huge or countless
 * headers, control characters. The mutations are the same for the same seed, so a failure can be
 * replayed (only tags, branches and Call-IDs differ).
 */
import { sdpOffer, sipRequest } from '@sipvm/harness';

/** mulberry32: small, fast, and the same sequence for the same seed. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTILE = [
  '',
  ' ',
  '"',
  "'",
  ';',
  ';;;;',
  '=',
  '==',
  '\\',
  '<',
  '>',
  '<sip:',
  'a'.repeat(5_000),
  '../../../etc/passwd',
  '..',
  '%00',
  '\0',
  '\r',
  '\n',
  '\r\nP-App-Name: voicebox',
  '${jndi:ldap://x/a}',
  '<script>alert(1)</script>',
  'voicebox',
  'annrecorder',
  'voicemail',
  'VOICEBOX',
  'sip:voicebox@127.0.0.1',
  '-1',
  '0',
  '99999999999999999999',
  '4294967296',
  '1e309',
  'NaN',
  '\u00ff\u00fe',
  '\u2028',
  '\u{1F642}',
  'pin=1234',
  "usr='a;b",
  'usr=..;dom=..',
  'uid=/;did=\\',
  'mod=9',
  'mod=both',
  "eml='a@b.org\r\nBcc: x@y.z'",
  'eml=a@b.org,c@d.org',
  'typ=../x',
  'lng=xx-XXXXXXXXXXXXX',
  '"unterminated',
  "'unterminated",
  'usr=a\\',
  ';usr=;dom=;',
  'Forbidden',
  'SIP/2.0',
  'sip:%41@host',
  'sips:a@b',
  'tel:+4930123',
  '*',
  'x'.repeat(300),
];
const APP_PARAM_KEYS = [
  'usr',
  'user',
  'dom',
  'domain',
  'uid',
  'userid',
  'did',
  'domainid',
  'snd',
  'sender',
  'eml',
  'email-address',
  'mod',
  'mode',
  'lng',
  'language',
  'typ',
  'type',
  'pin',
  'PIN',
  'x',
  'a b',
  '',
];
const METHODS = [
  'INVITE',
  'SUBSCRIBE',
  'OPTIONS',
  'BYE',
  'INFO',
  'NOTIFY',
  'CANCEL',
  'ACK',
  'UPDATE',
  'PRACK',
  'REFER',
  'MESSAGE',
  'REGISTER',
  'FOO',
  'invite',
  '',
];
const APPS = ['voicebox', 'annrecorder', 'voicemail', 'VoiceBox', 'conference', ''];

export class SipMutator {
  readonly #random: () => number;

  constructor(
    seed: number,
    private readonly target: string,
  ) {
    this.#random = prng(seed);
  }

  #int(max: number): number {
    return Math.floor(this.#random() * max);
  }

  #pick<T>(items: readonly T[]): T {
    return items[this.#int(items.length)] as T;
  }

  #garbage(length: number): string {
    return Buffer.from(Array.from({ length }, () => this.#int(256))).toString('latin1');
  }

  /** A well-formed request to start from, sent from `local`. */
  base(local: string): string {
    const host = this.target;
    const sdp = { 'Content-Type': 'application/sdp' };
    switch (this.#int(7)) {
      case 0:
        return sipRequest({
          method: 'INVITE',
          uri: `sip:alice@${host}`,
          local,
          headers: { ...sdp, 'P-App-Name': 'voicebox', 'P-App-Param': 'usr=alice;dom=example.org;pin=80417325;' },
          body: sdpOffer(),
        });
      case 1:
        return sipRequest({
          method: 'INVITE',
          uri: `sip:bob@${host}`,
          local,
          headers: { ...sdp, 'P-App-Name': 'voicemail', 'P-App-Param': "mod=box;usr=bob;dom=example.org;snd='sip:c@x.org';" },
          body: sdpOffer(),
        });
      case 2:
        return sipRequest({ method: 'INVITE', uri: `sip:alice@${host};app=${this.#pick(APPS)}`, local, headers: sdp, body: sdpOffer() });
      case 3:
        return sipRequest({
          method: 'INVITE',
          uri: `sip:${this.#pick(APPS)}@${host}`,
          local,
          headers: { ...sdp, 'Session-Expires': '1800;refresher=uac', Supported: 'timer' },
          body: sdpOffer(),
        });
      case 4:
        return sipRequest({
          method: 'SUBSCRIBE',
          uri: `sip:alice@${host}`,
          local,
          headers: { Event: 'message-summary', Expires: '600', 'P-App-Param': 'uid=alice;did=example.org' },
        });
      case 5:
        return sipRequest({ method: 'OPTIONS', uri: `sip:${host}`, local });
      default:
        return sipRequest({
          method: this.#pick(['BYE', 'INFO', 'NOTIFY', 'CANCEL']),
          uri: `sip:alice@${host}`,
          local,
          headers: { 'Content-Type': 'application/dtmf-relay' },
          body: 'Signal=5\r\nDuration=160\r\n',
        });
    }
  }

  /** The base request bent by one to three mutations. */
  mutate(message: string): string {
    let text = message;
    const count = 1 + this.#int(3);
    for (let i = 0; i < count; i++) text = this.#mutation(text);
    return text;
  }

  #mutation(text: string): string {
    const [head = '', ...rest] = text.split('\r\n\r\n');
    const body = rest.join('\r\n\r\n');
    const lines = head.split('\r\n');
    const headerIndex = () => 1 + this.#int(Math.max(1, lines.length - 1));
    const join = () => `${lines.join('\r\n')}\r\n\r\n${body}`;
    switch (this.#int(13)) {
      case 0: {
        const bytes = Buffer.from(text, 'latin1');
        for (let i = 0, n = 1 + this.#int(8); i < n; i++) bytes[this.#int(bytes.length)] = this.#int(256);
        return bytes.toString('latin1');
      }
      case 1:
        lines.splice(headerIndex(), 1);
        return join();
      case 2: {
        const i = headerIndex();
        lines.splice(i, 0, lines[i] ?? 'Via: SIP/2.0/UDP 127.0.0.1');
        return join();
      }
      case 3: {
        const i = headerIndex();
        const name = (lines[i] ?? 'X-Fuzz:').split(':')[0];
        lines[i] = `${name}: ${this.#pick(HOSTILE)}`;
        return join();
      }
      case 4: {
        const pairs = Array.from(
          { length: 1 + this.#int(6) },
          () => `${this.#pick(APP_PARAM_KEYS)}${this.#pick(['=', ' = ', '', '=='])}${this.#pick(HOSTILE)}`,
        );
        const value = pairs.join(this.#pick([';', ' ; ', ';;', ',']));
        const i = lines.findIndex((l) => /^P-App-Param:/i.test(l));
        if (i >= 0) lines[i] = `P-App-Param: ${value}`;
        else lines.splice(headerIndex(), 0, `P-App-Param: ${value}`, `P-App-Name: ${this.#pick(APPS)}`);
        return join();
      }
      case 5: {
        const [method = 'INVITE', , version = 'SIP/2.0'] = (lines[0] ?? '').split(' ');
        const user = this.#pick([...APPS, this.#pick(HOSTILE), '8000']);
        const uri = this.#pick([
          `sip:${user}@${this.target}`,
          `sip:a@${this.target};app=${this.#pick(APPS)}`,
          `sip:${this.target};app=${this.#pick(HOSTILE)}`,
          this.#pick(HOSTILE),
          `sips:${user}@x`,
        ]);
        lines[0] = `${method} ${uri} ${version}`;
        return join();
      }
      case 6:
        return text.slice(0, this.#int(text.length));
      case 7: {
        const i = lines.findIndex((l) => /^Content-Length:/i.test(l));
        const lie = this.#pick(['0', '-5', '999999', '3', 'abc', String(body.length + 100)]);
        if (i >= 0) lines[i] = `Content-Length: ${lie}`;
        return join();
      }
      case 8:
        lines.splice(headerIndex(), 0, `X-Fuzz-${this.#int(1000)}: ${'A'.repeat(1_000 + this.#int(20_000))}`);
        return join();
      case 9: {
        const [, uri = `sip:${this.target}`, version = 'SIP/2.0'] = (lines[0] ?? '').split(' ');
        const method = this.#pick(METHODS);
        lines[0] = `${method} ${uri} ${version}`;
        return join().replace(/^(CSeq:\s*\d+\s+)\S+/im, `$1${method}`);
      }
      case 10: {
        const i = headerIndex();
        const position = this.#int((lines[i] ?? '').length + 1);
        lines[i] = `${(lines[i] ?? '').slice(0, position)}${this.#pick(['\0', '\r', '\n', '\x1b', '\x7f', '\r\n\r\n'])}${(lines[i] ?? '').slice(position)}`;
        return join();
      }
      case 11:
        for (let i = 0, n = 50 + this.#int(300); i < n; i++) lines.splice(headerIndex(), 0, `X-Many-${i}: ${i}`);
        return join();
      default:
        return `${head}\r\n\r\n${this.#pick([body, '', this.#garbage(this.#int(2_000)), `v=0\r\nm=audio ${this.#pick(HOSTILE)} RTP/AVP 0\r\n`])}`;
    }
  }
}
