import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '@sipvm/harness';
import { LocalBlobStore } from './local-blobs.js';

async function* chunks(...parts: string[]): AsyncIterable<Uint8Array> {
  for (const part of parts) yield new TextEncoder().encode(part);
}

it('leaves nothing in its staging folder after writes that replace, refuse or keep an object', async () => {
  const dir = await tempDir('local-blobs');
  try {
    const store = new LocalBlobStore(dir.path);
    await store.init();
    // Replacing (renamed into place) and only-if-absent (hard-linked): both end with one name.
    assert.equal(await store.put('mailboxes/a/audio.wav', chunks('RIFF', '....'), 8), true);
    assert.equal(await store.put('mailboxes/a/audio.wav', chunks('RIFFnew!'), 8), true);
    assert.equal(await store.put('mailboxes/a/meta.json', chunks('{}'), 2, { ifAbsent: true }), true);
    assert.equal(await store.put('mailboxes/a/meta.json', chunks('{"x":1}'), 7, { ifAbsent: true }), false);
    await assert.rejects(store.put('mailboxes/a/short.wav', chunks('abc'), 4), /got 3 bytes, expected 4/);

    assert.equal(await readFile(join(dir.path, 'mailboxes/a/audio.wav'), 'utf8'), 'RIFFnew!');
    assert.equal(await readFile(join(dir.path, 'mailboxes/a/meta.json'), 'utf8'), '{}');
    assert.deepEqual((await readdir(join(dir.path, 'mailboxes/a'))).sort(), ['audio.wav', 'meta.json']);
    assert.deepEqual(await readdir(join(dir.path, '.tmp')), []);
  } finally {
    await dir.remove();
  }
});
