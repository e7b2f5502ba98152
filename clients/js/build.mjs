// Builds the dashboard Sluice serves at /dashboard: dashboard/src/main.ts bundled with the client library into one ES
// module, beside the page and its style sheet. The output is committed (src/Sluice.Http/Dashboard), so that running
// Sluice from a fresh clone needs no npm; test/build.test.ts fails when it differs from a fresh build.
//   node build.mjs [--outdir DIR]
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const at = process.argv.indexOf('--outdir');
const outdir = at > 0 ? process.argv[at + 1] : join(here, '../../src/Sluice.Http/Dashboard');
export const files = ['index.html', 'dashboard.css', 'dashboard.js'];

export async function buildDashboard(dir) {
  await mkdir(dir, { recursive: true });
  await build({
    entryPoints: [join(here, 'dashboard/src/main.ts')],
    outfile: join(dir, 'dashboard.js'),
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    charset: 'utf8',
    logLevel: 'warning',
  });
  await copyFile(join(here, 'dashboard/index.html'), join(dir, 'index.html'));
  await copyFile(join(here, 'dashboard/dashboard.css'), join(dir, 'dashboard.css'));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildDashboard(outdir);
  console.log(`dashboard built into ${outdir}`);
}
