/** Start-up refuses bad configuration with one clear line per variable and exit status 78. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startService, tempDir } from '@sipvm/harness';

async function refused(env: Record<string, string>): Promise<string> {
  try {
    const started = await startService('media', env, { timeoutMs: 15_000 });
    await started.stop();
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  assert.fail('media started with a bad configuration');
}

test('bad variables are named with what is wrong', async () => {
  const message = await refused({ RTPENGINE_NG: 'rtpengine', MEDIA_DTMF_LISTEN: '127.0.0.1:99999', MEDIA_INBAND_DTMF: 'perhaps' });
  assert.match(message, /RTPENGINE_NG \("rtpengine"\): must be host:port/);
  assert.match(message, /MEDIA_DTMF_LISTEN \("127\.0\.0\.1:99999"\): must be host:port/);
  assert.match(message, /MEDIA_INBAND_DTMF \("perhaps"\): must be true or false/);
});

test('missing prompts with PROMPTS_BUILD=false stop the start, naming the folder', async () => {
  const dir = await tempDir('media-noprompts');
  try {
    const message = await refused({ PROMPTS_DIR: dir.path, PROMPTS_BUILD: 'false' });
    assert.match(message, /PROMPTS_DIR \(.*\): prompts are missing or outdated and PROMPTS_BUILD is false/);
  } finally {
    await dir.remove();
  }
});
