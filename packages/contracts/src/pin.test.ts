import { it } from 'node:test';
import assert from 'node:assert/strict';
import { pinMatches, PinVerifierSchema, sealPin } from './pin.js';

it('a sealed PIN matches only the same digits and holds no trace of them', async () => {
  const sealed = await sealPin('80417325');
  PinVerifierSchema.parse(sealed);
  assert.ok(!JSON.stringify(sealed).includes('80417325'));
  assert.ok(await pinMatches('80417325', sealed));
  for (const wrong of ['', '8041732', '804173255', '52371408', '80417325#']) assert.ok(!(await pinMatches(wrong, sealed)), wrong);
  assert.notDeepEqual(await sealPin('80417325'), sealed, 'a fresh salt each time');
});

it('refuses to seal what is not a PIN', async () => {
  await assert.rejects(sealPin('12a4'));
  await assert.rejects(sealPin(''));
});
