import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { loadModel, ResgpuError } from '../src/index.js';
import { rng } from './helpers/random-model.js';

/**
 * Corrupted files must fail with a ResgpuError (or, by luck, still load): never with a
 * TypeError, a RangeError from deep recursion, or a hang. Seeded, so a failure reproduces.
 */
const example = (name: string) => new Uint8Array(readFileSync(new URL(`../examples/${name}`, import.meta.url)));

test.each(['breast_cancer.pt', 'breast_cancer.safetensors'])('mutations of %s fail only with typed errors', async (name) => {
  const original = example(name);
  const r = rng(name.length);
  const header = name.endsWith('.pt') ? 6000 : 4000; // most structure lives near the start
  const unexpected: string[] = [];
  let refused = 0;
  for (let trial = 0; trial < 300; trial++) {
    const bytes = original.slice();
    const edits = 1 + Math.floor(r() * 4);
    for (let e = 0; e < edits; e++) bytes[Math.floor(r() * (r() < 0.8 ? header : bytes.length))] = Math.floor(r() * 256);
    const cut = r() < 0.2 ? Math.floor(r() * bytes.length) : bytes.length;
    const outcome = await loadModel(bytes.subarray(0, cut), { backend: 'cpu' }).then(
      () => 'loaded',
      (e: unknown) => (e instanceof ResgpuError ? 'refused' : e),
    );
    if (outcome === 'refused') refused++;
    else if (outcome !== 'loaded') unexpected.push(`trial ${trial}: ${String(outcome)}`);
  }
  expect(unexpected).toEqual([]);
  expect(refused).toBeGreaterThan(50); // the mutations do reach the parsers
});
