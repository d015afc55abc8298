import { it } from 'node:test';
import assert from 'node:assert/strict';
import { Admission, overloaded, type AdmissionLimits } from './admission.js';

const limits: AdmissionLimits = { maxCalls: 0, maxLoopDelayMs: 100, maxMediaAnswerMs: 250, windowMs: 1_000 };

it('is overloaded when either measurement passes its limit, and stays so until both are under 70 % of it', () => {
  assert.equal(overloaded(limits, { loopDelayP99Ms: 40, mediaAnswerP90Ms: 120 }, false), false);
  assert.equal(overloaded(limits, { loopDelayP99Ms: 140, mediaAnswerP90Ms: 20 }, false), true);
  assert.equal(overloaded(limits, { loopDelayP99Ms: 10, mediaAnswerP90Ms: 300 }, false), true);
  // Hysteresis: under the limit but above 70 % of it keeps the refusals going.
  assert.equal(overloaded(limits, { loopDelayP99Ms: 90, mediaAnswerP90Ms: 20 }, true), true);
  assert.equal(overloaded(limits, { loopDelayP99Ms: 60, mediaAnswerP90Ms: 150 }, true), false);
});

it('a limit of 0 is not measured', () => {
  assert.equal(overloaded({ ...limits, maxLoopDelayMs: 0, maxMediaAnswerMs: 0 }, { loopDelayP99Ms: 5_000, mediaAnswerP90Ms: 5_000 }, false), false);
});

it('refuses at the configured cap, counting the calls held', () => {
  const admission = new Admission({ ...limits, maxCalls: 3 });
  try {
    assert.equal(admission.refusal(2), undefined);
    assert.equal(admission.refusal(3), 'at capacity');
  } finally {
    admission.stop();
  }
});

it('windows without answers from media keep the verdict (no flapping): only answers that are fast again end it', async () => {
  const changes: boolean[] = [];
  const admission = new Admission({ ...limits, windowMs: 50 }, (now) => changes.push(now));
  try {
    for (let i = 0; i < 10; i++) admission.mediaAnswered(400);
    await new Promise((resolve) => setTimeout(resolve, 400)); // several windows, no answers in them
    assert.deepEqual(changes, [true], 'overloaded once, and still: an empty window is no recovery');
    // Each window lets one call through to measure media; the rest are refused.
    assert.equal(admission.refusal(0), undefined, 'the first call of a window goes through');
    assert.equal(admission.refusal(0), 'overloaded');
    assert.equal(admission.refusal(0), 'overloaded');
    admission.mediaAnswered(15);
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.deepEqual(changes, [true, false], 'the fast answer ended it');
  } finally {
    admission.stop();
  }
});

it('turns overloaded when media answers slowly for a window, and back when it recovers', async () => {
  const changes: boolean[] = [];
  let changed: () => void = () => undefined;
  // The verdict comes from the admission's own (unref'd) window timer; the deadline keeps the test alive meanwhile.
  const nextChange = () =>
    new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error('no change of verdict within 5 s')), 5_000);
      changed = () => {
        clearTimeout(deadline);
        resolve();
      };
    });
  const admission = new Admission({ ...limits, windowMs: 100 }, (now) => {
    changes.push(now);
    changed();
  });
  try {
    let change = nextChange();
    for (let i = 0; i < 10; i++) admission.mediaAnswered(400);
    await change;
    admission.refusal(0); // the window's one call let through to measure
    assert.equal(admission.refusal(0), 'overloaded');
    change = nextChange();
    // Answers keep coming in fast until a window has judged them.
    const fast = setInterval(() => admission.mediaAnswered(20), 10);
    await change.finally(() => clearInterval(fast));
    assert.equal(admission.refusal(0), undefined);
    assert.deepEqual(changes, [true, false]);
  } finally {
    admission.stop();
  }
});
