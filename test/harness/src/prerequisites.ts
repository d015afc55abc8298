/**
 * Tests that need an outside program (drachtio-server, sipp, Ceph, Chromium, docker-compose,
 * kubectl): on a developer's machine without it they are skipped, loudly; in CI (CI set, as .ci/run
 * sets it) a missing program is a failure, so CI cannot pass with a suite that never ran.
 */
import { it } from 'node:test';

export const IN_CI = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

/**
 * Why the tests named `what` cannot run here, or undefined: returns the skip reason after saying so
 * (and counting a skipped test in the file's summary); in CI adds a failing test instead.
 */
export function prerequisite(what: string, missing: string | undefined): string | undefined {
  if (missing === undefined) return undefined;
  if (IN_CI) {
    it(`${what} can run (CI needs every test to run)`, () => {
      throw new Error(`${what}: ${missing}`);
    });
  } else {
    process.stderr.write(`\n${'!'.repeat(78)}\n!! ${what.toUpperCase()} SKIPPED: ${missing}\n${'!'.repeat(78)}\n\n`);
    it(`${what} need what is missing`, { skip: missing }, () => undefined);
  }
  return missing;
}
