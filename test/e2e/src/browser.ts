/**
 * Headless Chromium (Debian's `chromium`) driven by playwright-core, for tests of the web inbox.
 * The machine's network is closed, so Chromium is told not to reach out (background networking,
 * component updates, sync, QUIC); each browser gets a fresh profile folder. A fake microphone
 * can play a WAV file, so a recording made in the page has content a test can recognise.
 */
import { chromium, type BrowserContext } from 'playwright-core';
import { isExecutable, prerequisite, tempDir } from '@sipvm/harness';

export const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Why the browser tests cannot run here, or undefined. When they cannot, it says so loudly and
 * counts a skipped test (scripts/setup.sh installs `chromium`, so this is a machine set up by hand).
 */
export function browserSkipReason(): string | undefined {
  return prerequisite(
    'browser tests',
    isExecutable(CHROMIUM_BIN) ? undefined : `no Chromium at ${CHROMIUM_BIN}: install Debian's chromium (npm run setup) or set CHROMIUM_BIN`,
  );
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function openBrowser(options: { microphoneWav?: string } = {}): Promise<Browser> {
  const profile = await tempDir('chromium');
  const microphone = options.microphoneWav
    ? ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${options.microphoneWav}`]
    : [];
  const context = await chromium.launchPersistentContext(profile.path, {
    executablePath: CHROMIUM_BIN,
    headless: true,
    args: [...FLAGS, ...microphone],
  });
  return {
    context,
    async close() {
      await context.close();
      await profile.remove();
    },
  };
}
