import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { expect, test } from 'vitest';

/** tools/export_resgpu.py's own tests, with real PyTorch (Debian's python3-torch). */
test('the Python exporter passes its unittest suite', () => {
  const run = spawnSync('/usr/bin/python3', [resolve(import.meta.dirname, 'python/test_exporter.py'), '-v'], {
    encoding: 'utf8',
  });
  if (run.status !== 0) console.error(run.stdout, run.stderr);
  expect(run.stderr).toMatch(/Ran 19 tests/);
  expect(run.status).toBe(0);
});

test('the Python exporter passes its image-model tests (torchvision ResNets, pooling, refusals)', () => {
  const run = spawnSync('/usr/bin/python3', [resolve(import.meta.dirname, 'python/test_exporter_vision.py'), '-v'], { encoding: 'utf8' });
  if (run.status !== 0) console.error(run.stdout, run.stderr);
  expect(run.stderr).toMatch(/Ran 4 tests/);
  expect(run.status).toBe(0);
});
