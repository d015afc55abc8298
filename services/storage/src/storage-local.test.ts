import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { tempDir } from '@sipvm/harness';
import { describeStorageConformance } from '../test/conformance.js';

describeStorageConformance({
  name: 'local folder',
  async setup() {
    const dir = await tempDir('storage');
    return {
      env: { STORAGE_BACKEND: 'local', STORAGE_DIR: dir.path },
      async listAll() {
        const files: string[] = [];
        const walk = async (path: string): Promise<void> => {
          for (const entry of await readdir(path, { withFileTypes: true })) {
            if (entry.name === '.tmp') continue; // the staging area of in-progress writes
            if (entry.isDirectory()) await walk(join(path, entry.name));
            else files.push(relative(dir.path, join(path, entry.name)));
          }
        };
        await walk(dir.path);
        return files.sort();
      },
      teardown: dir.remove,
    };
  },
});
