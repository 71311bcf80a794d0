import { beforeAll, describe, expect, test } from 'vitest';
import { loadModel, type LoadOptions } from '../src/index.js';
import { nodeDevice } from './helpers/node-gpu.js';
import { makeRandomCnn } from './helpers/random-cnn.js';
import { ACTIVATIONS, FAMILIES, makeRandomGraph } from './helpers/random-graph.js';
import { randomInput, rng } from './helpers/random-model.js';

/**
 * Deterministic mode (batch invariance), as a seeded property: a row's outputs are bitwise the
 * same alone and inside batches of 1 to 513 rows, at random positions among random other rows,
 * run after run; on WebGPU (the automatic choice and every kernel forced) and WebAssembly (1 and
 * 2 threads). The free mode's spread is measured and printed.
 */
let device: GPUDevice;
beforeAll(async () => {
  device = await nodeDevice();
});

const BATCHES = [1, 2, 3, 5, 17, 64, 513];

/** The largest |difference| of the row's outputs inside random batches from its outputs alone, over `trials` batches. */
async function spread(options: LoadOptions, seed: number, trials: number) {
  const r = rng(seed);
  const family = FAMILIES[(seed - 1) % FAMILIES.length]!;
  const m = makeRandomGraph(family, ACTIVATIONS[Math.floor(r() * ACTIVATIONS.length)]!, seed);
  const model = await loadModel(m.bytes, options);
  const row = randomInput(1, m.inputSize, seed);
  const alone = await model.run(row);
  let worst = 0;
  let differing = 0;
  for (let t = 0; t < trials; t++) {
    const batch = BATCHES[Math.floor(r() * BATCHES.length)]!;
    if (options.kernel === 'gemv' && batch > 16) continue;
    const at = Math.floor(r() * batch);
    const x = randomInput(batch, m.inputSize, seed * 1000 + t);
    x.set(row, at * m.inputSize);
    const y = (await model.run(x)).subarray(at * m.outputSize, (at + 1) * m.outputSize);
    const d = Math.max(...y.map((v, i) => Math.abs(v - alone[i]!)));
    if (!Object.is(d, 0)) differing++;
    worst = Math.max(worst, d);
  }
  await model.dispose();
  return { family, worst, differing };
}

describe.each<[string, () => LoadOptions]>([
  ['WebGPU, automatic choice', () => ({ device })],
  ['WebGPU, gemm forced', () => ({ device, kernel: 'gemm' })],
  ['WebGPU, gemm_tiled forced', () => ({ device, kernel: 'gemm_tiled' })],
  ['WebAssembly, 1 thread', () => ({ backend: 'wasm', threads: 1 })],
  ['WebAssembly, 2 threads', () => ({ backend: 'wasm', threads: 2 })],
])('%s', (name, options) => {
  test.each([1, 2, 3, 4])('deterministic: the row is bitwise the same in every batch (seed %i)', async (seed) => {
    const { family, worst, differing } = await spread({ ...options(), deterministic: true }, seed, 12);
    expect([family, differing, worst]).toEqual([family, 0, 0]);
  });

  test('the free mode, for comparison: its spread is measured', async () => {
    const results = [];
    for (const seed of [1, 2, 3, 4]) results.push(await spread(options(), seed, 12));
    console.log(`${name}, free mode: ${results.map((r) => `${r.family} ${r.differing}/12 batches differ, max ${r.worst.toExponential(1)}`).join('; ')}`);
  });
});

test.each(['basic', 'bottleneck'] as const)('deterministic on WebGPU: a residual CNN (%s blocks) gives a row the same bits in every batch', async (family) => {
  const m = makeRandomCnn(family);
  const model = await loadModel(m.bytes, { device, deterministic: true });
  const width = model.inputSize;
  const row = randomInput(1, width, 9);
  const alone = await model.run(row);
  for (const [batch, at] of [[2, 1], [3, 0], [5, 4]] as const) {
    const x = randomInput(batch, width, batch);
    x.set(row, at * width);
    const y = await model.run(x);
    expect(Array.from(y.subarray(at * model.outputSize, (at + 1) * model.outputSize))).toEqual(Array.from(alone));
  }
  await model.dispose();
});

test("deterministic mode's kernels sum in one order: gemm and gemm_tiled give the same bits; gemv is refused", async () => {
  for (const family of FAMILIES) {
    const m = makeRandomGraph(family, { fn: 'gelu' });
    const x = randomInput(37, m.inputSize, 3);
    const [a, b] = await Promise.all((['gemm', 'gemm_tiled'] as const).map(async (kernel) => {
      const model = await loadModel(m.bytes, { device, kernel, deterministic: true });
      const y = await model.run(x);
      await model.dispose();
      return Array.from(y);
    }));
    expect(a).toEqual(b);
  }
  await expect(loadModel(makeRandomGraph('prenorm', { fn: 'relu' }).bytes, { device, kernel: 'gemv', deterministic: true })).rejects.toThrow(/'gemv' splits each sum.*cannot run in deterministic mode/);
});

test('describe() and the default say which mode runs', async () => {
  const m = makeRandomGraph('prenorm', { fn: 'relu' });
  const free = await loadModel(m.bytes, { backend: 'wasm' });
  const fixed = await loadModel(m.bytes, { device, deterministic: true });
  expect([free.describe().deterministic, fixed.describe().deterministic]).toEqual([false, true]);
  expect(new Set(fixed.describe({ batch: 1 }).dispatches.map((d) => d.variant))).toEqual(new Set(fixed.describe({ batch: 4096 }).dispatches.map((d) => d.variant)));
  await Promise.all([free.dispose(), fixed.dispose()]);
});
