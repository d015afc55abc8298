import { it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { signWebhook, verifyWebhook } from './signature.js';

const secret = 'whsec-0123456789abcdef';
const body = '{"type":"message.created"}';

it('signs the timestamp and the raw body with HMAC-SHA256, as documented', () => {
  const header = signWebhook(secret, body, 1_700_000_000);
  const expected = createHmac('sha256', secret).update(`1700000000.${body}`).digest('hex');
  assert.equal(header, `t=1700000000,v1=${expected}`);
  assert.equal(verifyWebhook(secret, body, header, 300, 1_700_000_100), true);
});

it('refuses another body, another secret, a stale timestamp and junk', () => {
  const header = signWebhook(secret, body, 1_700_000_000);
  assert.equal(verifyWebhook(secret, `${body} `, header, 300, 1_700_000_000), false);
  assert.equal(verifyWebhook('another-secret-0123456', body, header, 300, 1_700_000_000), false);
  assert.equal(verifyWebhook(secret, body, header, 300, 1_700_000_301), false);
  for (const junk of ['', 't=1700000000', 'v1=00', 't=x,v1=zz']) assert.equal(verifyWebhook(secret, body, junk, 300, 1_700_000_000), false, junk);
});
