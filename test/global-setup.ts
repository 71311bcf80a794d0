import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { build } from 'vite';
import { makeDigitsModel } from '../examples/digits/model.mjs';

/** Where test/python/make_torch_cases.py writes the PyTorch parity cases for this run. */
export const TORCH_CASES_DIR = resolve(import.meta.dirname, '.generated/torch');
/** Where test/python/make_family_cases.py writes the residual network families (rtdl, widedeep, pre-LN GELU/SiLU, seed). */
export const FAMILY_CASES_DIR = resolve(import.meta.dirname, '.generated/families');
/** Where test/python/make_vision_cases.py writes the image ResNets (torchvision's, Debian's python3-torchvision). */
export const VISION_CASES_DIR = resolve(import.meta.dirname, '.generated/vision');

/**
 * Before any test: build the bundle the Chrome suite loads, from the current sources, and make
 * models and expected outputs with real PyTorch (Debian's python3-torch and python3-torchvision,
 * installed by tools/setup.sh). Neither step is optional: without them, the run fails.
 */
export default async function setup(): Promise<void> {
  await build({ logLevel: 'warn' });
  await build({ configFile: resolve(import.meta.dirname, '../vite.cli.config.ts'), logLevel: 'warn' }); // dist/cli.js, the resgpu command
  await build({ configFile: resolve(import.meta.dirname, '../serve/vite.config.ts'), logLevel: 'warn' }); // serve/dist, resgpu-serve
  // The library's declarations (vite emptied dist): here once, not in each packaging test, which
  // run in parallel and would write them at the same time as the other packs them.
  execFileSync(process.execPath, [resolve(import.meta.dirname, '../node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: resolve(import.meta.dirname, '..'),
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (const [script, dir] of [['make_torch_cases.py', TORCH_CASES_DIR], ['make_family_cases.py', FAMILY_CASES_DIR], ['make_vision_cases.py', VISION_CASES_DIR]] as const) {
    rmSync(dir, { recursive: true, force: true });
    execFileSync('/usr/bin/python3', [resolve(import.meta.dirname, 'python', script), dir], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  // The digits example's model (examples/digits/train.py): trained once, again only when train.py changes.
  makeDigitsModel();
}
