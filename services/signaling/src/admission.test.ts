import { it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { Admission, overloaded, type AdmissionLimits } from './admission.js';

const limits: AdmissionLimits = { maxCalls: 0, maxLoopDelayMs: 100, maxMediaAnswerMs: 250, windowMs: 1_000 };

it('is overloaded when either measurement passes its limit, and stays so until both are under 70 % of it', () => {
  assert.equal(overloaded(limits, { loopDelayP99Ms: 40, mediaAnswerP90Ms: 120 }, false), false);
  assert.equal(overloaded(limits, { loopDelayP99Ms: 140, mediaAnswerP90Ms: 20 }, false), true);
  assert.equal(overloaded(limits, { loopDelayP99Ms: 10, mediaAnswerP90Ms: 300 }, false), true);
  // Above the limit, not at it; and not yet at 70 % of it when it was not overloaded before.
  assert.equal(overloaded(limits, { loopDelayP99Ms: 100, mediaAnswerP90Ms: 250 }, false), false);
  assert.equal(overloaded(limits, { loopDelayP99Ms: 90, mediaAnswerP90Ms: 200 }, false), false);
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
    await new Promise((resolve) => setTimeout(resolve, 60)); // the next window: one more goes through
    assert.equal(admission.refusal(0), undefined, 'the first call of the next window goes through');
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

it('lets every call through while not overloaded', () => {
  const admission = new Admission(limits);
  try {
    for (let i = 0; i < 5; i++) assert.equal(admission.refusal(i), undefined);
  } finally {
    admission.stop();
  }
});

it('judges media by the slowest tenth of its answers (as numbers): a tenth slow is enough', async () => {
  const changes: boolean[] = [];
  const admission = new Admission({ ...limits, windowMs: 100 }, (now) => changes.push(now));
  try {
    assert.deepEqual(admission.measurements, { loopDelayP99Ms: 0, mediaAnswerP90Ms: 0 }, 'nothing measured yet');
    assert.equal(admission.overloaded, false);
    for (const ms of [1_000, 1_000, 90, 90, 90, 90, 90, 90, 90, 90]) admission.mediaAnswered(ms);
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.deepEqual(changes, [true]);
    assert.equal(admission.overloaded, true);
    assert.equal(admission.measurements.mediaAnswerP90Ms, 1_000);
  } finally {
    admission.stop();
  }
});

it('keeps at most 10,000 answers a window: a flood of them does not grow without bound', async () => {
  const changes: boolean[] = [];
  const admission = new Admission({ ...limits, windowMs: 200 }, (now) => changes.push(now));
  try {
    // 10,000 answers whose slowest tenth is fast; the slow ones after them are not kept.
    for (let i = 0; i < 9_000; i++) admission.mediaAnswered(20);
    for (let i = 0; i < 1_000; i++) admission.mediaAnswered(i === 0 ? 20 : 400);
    for (let i = 0; i < 5_000; i++) admission.mediaAnswered(400);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(changes, []);
    assert.equal(admission.measurements.mediaAnswerP90Ms, 20);
  } finally {
    admission.stop();
  }
});

it('turns overloaded when the event loop runs late, refusing every call (media is not measured), and back when it runs freely', async () => {
  const changes: boolean[] = [];
  const admission = new Admission({ maxCalls: 0, maxLoopDelayMs: 100, maxMediaAnswerMs: 0, windowMs: 200 }, (now) => changes.push(now));
  try {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const blockedUntil = performance.now() + 300;
    while (performance.now() < blockedUntil); // the process is short of CPU
    for (let waited = 0; changes.length === 0 && waited < 1_000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(changes, [true], 'the window that ran late judged it');
    assert.ok(admission.measurements.loopDelayP99Ms >= 250, `measured ${admission.measurements.loopDelayP99Ms} ms`);
    assert.equal(admission.refusal(0), 'overloaded', 'no call is let through to measure media: its answers are not judged');
    // Free again: a window later it takes calls; an idle loop is measured as (nearly) on time.
    const deadline = Date.now() + 3_000;
    while ((changes.length < 2 || admission.measurements.loopDelayP99Ms >= 40) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(changes, [true, false]);
    assert.ok(admission.measurements.loopDelayP99Ms < 40, `an idle loop measured ${admission.measurements.loopDelayP99Ms} ms late`);
    assert.equal(admission.refusal(0), undefined);
  } finally {
    admission.stop();
  }
});

it('judges each window by its own ticks: the window after a stall sees nothing of it', async () => {
  const changes: boolean[] = [];
  const admission = new Admission({ maxCalls: 0, maxLoopDelayMs: 100, maxMediaAnswerMs: 0, windowMs: 200 }, (now) => changes.push(now));
  const until = async (done: () => boolean, what: string) => {
    for (let waited = 0; !done(); waited += 10) {
      if (waited > 1_000) assert.fail(`${what} within 1 s`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  try {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const blockedUntil = performance.now() + 300;
    while (performance.now() < blockedUntil); // one stall
    await until(() => changes.length === 1, 'the verdict of the stalled window');
    const stalled = admission.measurements;
    assert.ok(stalled.loopDelayP99Ms >= 250, `measured ${stalled.loopDelayP99Ms} ms`);
    await until(() => admission.measurements !== stalled, 'the next window');
    assert.ok(admission.measurements.loopDelayP99Ms < 100, `the next window still counted the stall: ${admission.measurements.loopDelayP99Ms} ms`);
  } finally {
    admission.stop();
  }
});

it('its timers keep no process alive, and stop() clears them', (t) => {
  const set = t.mock.method(globalThis, 'setInterval');
  const cleared = t.mock.method(globalThis, 'clearInterval');
  const admission = new Admission(limits);
  const timers = set.mock.calls.map((call) => call.result as NodeJS.Timeout);
  assert.equal(timers.length, 1, 'the window (the loop is sampled by Node, not by a JavaScript timer)');
  assert.deepEqual(
    timers.map((timer) => timer.hasRef()),
    [false],
  );
  admission.stop();
  assert.deepEqual(
    timers.filter((timer) => !cleared.mock.calls.some((call) => call.arguments[0] === timer)),
    [],
    'every timer cleared',
  );
  mock.restoreAll();
});
