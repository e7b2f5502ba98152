import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// build/test/build.test.js → clients/js
const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

test('the dashboard committed under src/Sluice.Http/Dashboard is what a fresh build makes', async () => {
  const { buildDashboard, files } = await import(join(root, 'build.mjs')) as { buildDashboard: (dir: string) => Promise<void>; files: string[] };
  const dir = await mkdtemp(join(tmpdir(), 'sluice-dashboard-'));
  try {
    await buildDashboard(dir);
    for (const file of files) {
      const fresh = await readFile(join(dir, file), 'utf8');
      const committed = await readFile(join(root, '../../src/Sluice.Http/Dashboard', file), 'utf8').catch(() => '(missing)');
      assert.ok(fresh === committed, `src/Sluice.Http/Dashboard/${file} differs from a fresh build: run "npm run build" in clients/js and commit it`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
