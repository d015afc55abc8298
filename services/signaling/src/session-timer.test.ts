/** RFC 4028 negotiation on the UAS side. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { expiryMs, negotiateSessionTimer } from './session-timer.js';

describe('negotiateSessionTimer', () => {
  it('uses no timer when the caller asks for none, or cannot refresh', () => {
    assert.deepEqual(negotiateSessionTimer({ sessionExpires: undefined, minSe: undefined, supported: 'timer' }), { ok: true, timer: undefined, headers: {} });
    assert.deepEqual(negotiateSessionTimer({ sessionExpires: '1800', minSe: undefined, supported: '100rel' }), { ok: true, timer: undefined, headers: {} });
    assert.deepEqual(negotiateSessionTimer({ sessionExpires: 'soon', minSe: undefined, supported: 'timer' }), { ok: true, timer: undefined, headers: {} });
  });
  it('answers the interval with the caller as refresher unless it named us', () => {
    assert.deepEqual(negotiateSessionTimer({ sessionExpires: '1800', minSe: '90', supported: '100rel, timer' }), {
      ok: true,
      timer: { interval: 1800, refresher: 'uac' },
      headers: { 'Session-Expires': '1800;refresher=uac', Require: 'timer' },
    });
    assert.deepEqual(negotiateSessionTimer({ sessionExpires: '600 ; refresher=UAS', minSe: undefined, supported: 'timer' }), {
      ok: true,
      timer: { interval: 600, refresher: 'uas' },
      headers: { 'Session-Expires': '600;refresher=uas', Require: 'timer' },
    });
  });
  it('refuses intervals below Min-SE with 422', () => {
    assert.deepEqual(negotiateSessionTimer({ sessionExpires: '30', minSe: undefined, supported: 'timer' }), {
      ok: false,
      status: 422,
      reason: 'Session Interval Too Small',
      headers: { 'Min-SE': '90' },
    });
    assert.equal(negotiateSessionTimer({ sessionExpires: '100', minSe: '120', supported: 'timer' }).ok, false);
  });
  it('gives up a little before the interval ends', () => {
    assert.equal(expiryMs({ interval: 90, refresher: 'uac' }), 60_000);
    assert.equal(expiryMs({ interval: 1800, refresher: 'uac' }), 1_768_000);
  });
});
