import { beforeAll, describe, expect, test } from 'vitest';
import { loadModel, OptionError, type KernelVariant, type TuningCache } from '../src/index.js';
import { fuseAnyGraph as fuseGraph } from '../src/graph/fuse.js';
import { streamModel } from '../src/loader/index.js';
import { selectKernel, tuningKey } from '../src/runtime/webgpu/select.js';
import { expectClose } from './helpers/compare.js';
import { nodeDevice } from './helpers/node-gpu.js';
import { makeRandomCnn } from './helpers/random-cnn.js';
import { makeRandomModel, randomInput } from './helpers/random-model.js';

/** The selection point: forced variants, the fixed rule, and choices measured on the device. */
let device: GPUDevice;
beforeAll(async () => {
  device = await nodeDevice();
});

const config = { input: 20, stem: { out: 48, activation: 'relu' as const }, blocks: [{ hidden: 64, bn: true }, { hidden: 40, out: 24, bn: true }], head: { out: 3 }, seed: 41 };
const model = makeRandomModel(config);

describe('the rule, before any measurement', () => {
  const caps = (software: boolean) => ({ software, limits: device.limits, features: device.features });
  const selection = { precision: 'f32' as const, forced: null, measured: new Map<string, KernelVariant>() };

  test('a software adapter always gets gemm, the kernel measured fastest on SwiftShader', async () => {
    const { steps } = fuseGraph(await streamModel(model.bytes).complete());
    for (const rows of [4, 16, 64, 1024]) for (const s of steps) expect(selectKernel(s, rows, caps(true), selection).name).toBe('gemm');
  });

  test('a GPU gets gemv up to its 16 rows, then gemm_tiled', async () => {
    const { steps } = fuseGraph(await streamModel(model.bytes).complete());
    for (const s of steps) {
      expect(selectKernel(s, 4, caps(false), selection).name).toBe('gemv');
      expect(selectKernel(s, 16, caps(false), selection).name).toBe('gemv');
      expect(selectKernel(s, 20, caps(false), selection).name).toBe('gemm_tiled');
      expect(selectKernel(s, 1024, caps(false), selection).name).toBe('gemm_tiled');
    }
  });

  test('a measurement wins over the rule, but never outside the kernel\'s tested rows', async () => {
    const { steps } = fuseGraph(await streamModel(model.bytes).complete());
    const s = steps[0]!;
    const measured = new Map<string, KernelVariant>([[tuningKey(s, 4, 'f32'), 'gemm'], [tuningKey(s, 1024, 'f32'), 'gemv']]);
    expect(selectKernel(s, 4, caps(false), { ...selection, measured }).name).toBe('gemm');
    expect(selectKernel(s, 1024, caps(false), { ...selection, measured }).name).toBe('gemm_tiled');
  });
});

test('global pooling + Linear (a mean prologue) gets gemm_mean whatever is forced or measured; no other step does', async () => {
  const head = fuseGraph(await streamModel(makeRandomCnn('basic').bytes).complete()).steps.find((s) => s.prologue === 'mean_pixels')!;
  const plain = fuseGraph(await streamModel(model.bytes).complete()).steps;
  const caps = (software: boolean) => ({ software, limits: device.limits, features: device.features });
  for (const forced of [null, 'gemm', 'gemv', 'gemm_tiled'] as const) {
    const measured = new Map<string, KernelVariant>([[tuningKey(head, 4, 'f32'), 'gemv']]);
    for (const software of [true, false]) {
      for (const precision of ['f32', 'f16'] as const) {
        const selection = { precision, forced, measured };
        expect(selectKernel(head, 4, caps(software), selection)).toMatchObject({ name: 'gemm_mean', precision });
        for (const s of plain) expect(selectKernel(s, 4, caps(software), selection).name).toBe(forced ?? (software ? 'gemm' : 'gemv'));
      }
    }
  }
});

test('on SwiftShader the model runs gemm at every batch by default, as before', async () => {
  const m = await loadModel(model.bytes, { device });
  for (const batch of [1, 16, 1024]) expect(new Set(m.describe({ batch }).dispatches.map((d) => d.variant))).toEqual(new Set(['gemm']));
  expect(m.describe().adapter?.software).toBe(true);
  await m.dispose();
});

test('autotune measures step shapes once each, runs the winners, and a second load reuses the cache', async () => {
  const entries = new Map<string, KernelVariant>();
  const written: string[] = [];
  const cache: TuningCache = { get: (k) => entries.get(k), set: (k, v) => (written.push(k), void entries.set(k, v)) };
  const cpu = await loadModel(model.bytes, { backend: 'cpu' });
  const x = randomInput(3, config.input);
  const runsWinners = (m: Awaited<ReturnType<typeof loadModel>>) => {
    for (const d of m.describe({ batch: 3 }).dispatches) {
      // Batch 3 is planned as 4 rows; a shape the budget left unmeasured keeps the rule (gemm here).
      const winner = [...entries].find(([k]) => k.endsWith(`|${d.kernel}:${d.inFeatures}+${d.shortcutFeatures}->${d.outFeatures}@4:f32`))?.[1];
      expect(d.variant).toBe(winner ?? 'gemm');
    }
  };
  for (let load = 0; load < 2; load++) {
    const m = await loadModel(model.bytes, { device, autotune: true, tuningCache: cache });
    expectClose(await m.run(x), await cpu.run(x));
    runsWinners(m);
    await m.dispose();
  }
  expect(written.length).toBeGreaterThan(0);
  expect(new Set(written).size).toBe(written.length); // no shape measured twice, across both loads
  for (const winner of entries.values()) expect(['gemm', 'gemv', 'gemm_tiled']).toContain(winner);
});

test('forcing a kernel: any variant runs when asked, even past its automatic range; unknown names are refused', async () => {
  const cpu = await loadModel(model.bytes, { backend: 'cpu' });
  const x = randomInput(40, config.input);
  const m = await loadModel(model.bytes, { device, kernel: 'gemv' });
  expect(new Set(m.describe({ batch: 40 }).dispatches.map((d) => d.variant))).toEqual(new Set(['gemv']));
  expectClose(await m.run(x), await cpu.run(x));
  await m.dispose();
  await expect(loadModel(model.bytes, { device, kernel: 'cublas' as KernelVariant })).rejects.toBeInstanceOf(OptionError);
  await expect(loadModel(model.bytes, { device, precision: 'f8' as 'f16' })).rejects.toThrow(/Unknown precision "f8"/);
});

test('f16 weights take half the weight memory', async () => {
  const f32 = await loadModel(model.bytes, { device });
  const f16 = await loadModel(model.bytes, { device, precision: 'f16' });
  const bytes = (m: typeof f32) => m.describe().gpuBytes.weights;
  // Biases stay f32 and ranges are aligned, so a little over half.
  expect(bytes(f16)).toBeLessThan(0.65 * bytes(f32));
  expect(f16.describe().precision).toBe('f16');
  await f32.dispose();
  await f16.dispose();
});
