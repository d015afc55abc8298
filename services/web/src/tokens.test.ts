import { it } from 'node:test';
import assert from 'node:assert/strict';
import { operatorKeyMatches, TokenSigner } from './tokens.js';

const secret = 'a'.repeat(40);
const mailbox = { did: 'Example.ORG', uid: 'alice' };
const message = { kind: 'message', id: '20261123T081847123Z-3fa9c0d2b4e1' } as const;

it('issues a token that verifies to its mailbox (domain normalised), scopes and expiry', () => {
  const signer = new TokenSigner([secret]);
  const { token, claims } = signer.issueToken(mailbox, ['messages:read'], 3_600_000, 1_000_000_000);
  assert.match(token, /^svt1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(claims.mailbox, { did: 'example.org', uid: 'alice' });
  assert.deepEqual(signer.verifyToken(token, 1_000_000_000), claims);
  assert.equal(claims.expiresAt, 1_000_000 + 3600);
  assert.equal(signer.verifyToken(token, claims.expiresAt * 1000), undefined, 'expired at its expiry');
});

it('refuses a token that was altered, signed with another secret, or is a link', () => {
  const signer = new TokenSigner([secret]);
  const { token } = signer.issueToken(mailbox, ['messages:read'], 60_000);
  const [prefix, payload, mac] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
  const forged = Buffer.from(JSON.stringify({ ...claims, m: { did: 'example.org', uid: 'bob' } })).toString('base64url');
  assert.equal(signer.verifyToken(`${prefix}.${forged}.${mac}`), undefined, 'another mailbox in the claims');
  assert.equal(new TokenSigner(['b'.repeat(40)]).verifyToken(token), undefined, 'another secret');
  const { link } = signer.issueLink(mailbox, message, 'tok', 60_000);
  assert.equal(signer.verifyToken(link), undefined, 'a link is no token');
  assert.equal(signer.verifyLink(token), undefined, 'a token is no link');
  for (const junk of ['', 'svt1', 'svt1..', 'svt1.e30.AAAA', 'Bearer x', `${token}x`]) assert.equal(signer.verifyToken(junk), undefined, junk);
});

it('verifies tokens signed with an older secret during a rotation, and signs with the first', () => {
  const old = new TokenSigner(['o'.repeat(40)]);
  const { token } = old.issueToken(mailbox, ['messages:read'], 60_000);
  const rotated = new TokenSigner(['n'.repeat(40), 'o'.repeat(40)]);
  assert.ok(rotated.verifyToken(token));
  assert.equal(old.verifyToken(rotated.issueToken(mailbox, ['messages:read'], 60_000).token), undefined);
});

it('makes audio links for one recording that expire, never after the token', () => {
  const signer = new TokenSigner([secret]);
  const now = 2_000_000_000;
  const { link, expiresAt } = signer.issueLink(mailbox, message, 'tok123', 600_000, now / 1000 + 60, now);
  assert.equal(expiresAt, now / 1000 + 60, 'capped by the token');
  assert.deepEqual(signer.verifyLink(link, now), { mailbox: { did: 'example.org', uid: 'alice' }, resource: message, expiresAt, tokenId: 'tok123' });
  assert.equal(signer.verifyLink(link, now + 60_000), undefined);
});

it('compares the operator key whatever the lengths', () => {
  assert.equal(operatorKeyMatches('k'.repeat(32), 'k'.repeat(32)), true);
  assert.equal(operatorKeyMatches('k'.repeat(31), 'k'.repeat(32)), false);
  assert.equal(operatorKeyMatches('', 'k'.repeat(32)), false);
});
