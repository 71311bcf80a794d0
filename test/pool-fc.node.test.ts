import { beforeAll, describe, expect, test } from 'vitest';
import { loadModel, type LoadOptions } from '../src/index.js';
import { fuseAnyGraph } from '../src/graph/fuse.js';
import { streamModel } from '../src/loader/index.js';
import { referenceForward } from '../src/runtime/reference/forward.js';
import { wasmTuning } from '../src/runtime/wasm/wasm-model.js';
import { expectClose, GPU_TOLERANCE } from './helpers/compare.js';
import { fusedForward, halfWeightsForward } from './helpers/fused-reference.js';
import { graphBuilder } from './helpers/graph-builder.js';
import { nodeDevice } from './helpers/node-gpu.js';
import { randomInput } from './helpers/random-model.js';

/**
 * Global average pooling + the Linear after it, one gemm step with a mean prologue (issue 17):
 * the fusion rule and where it stops, then WebGPU (gemm_mean, f32 and f16 weights, any forced
 * variant) and WebAssembly (1 and 2 threads) against the float64 reference running the graph
 * unfused, at batch 1 and 3, at another image size, with NaN, and bit for bit in deterministic
 * mode. torchvision's ResNets end this way: the vision tests check them against PyTorch.
 */
let device: GPUDevice;
beforeAll(async () => {
  device = await nodeDevice();
});

interface Head {
  channels: number;
  h: number;
  w: number;
  out: number;
  /** A tanh before the pool, so that the pool reads a stored image rather than the model input. */
  pre?: boolean;
  /** A BatchNorm between the flatten and the Linear (folded into the Linear's columns). */
  bn?: boolean;
}

/** [C, H, W] → (tanh) → global_avgpool → flatten → (BatchNorm) → Linear. */
function poolHead(c: Head) {
  const b = graphBuilder(c.channels + c.out);
  let x = c.pre ? b.node('activation', 'act', ['x'], {}, { fn: 'tanh' }) : 'x';
  x = b.node('flatten', 'flatten', [b.node('global_avgpool', 'avgpool', [x])]);
  if (c.bn) x = b.batchnorm('bn', x, c.channels);
  return { ...b.encode([c.channels, c.h, c.w], b.linear('fc', x, c.channels, c.out)), inputSize: c.channels * c.h * c.w };
}

// 1029 channels: padded to 1032, two chunks of gemm_mean's workgroup memory (1024 channels each)
// and a padded tail; 300 outputs: two workgroups of 256 columns. 13 channels: 3 of padding.
const HEADS: [string, Head][] = [
  ['1029 channels, 3×2, 300 outputs, after a tanh', { channels: 1029, h: 3, w: 2, out: 300, pre: true }],
  ['13 channels, 5×7, BatchNorm folded, on the model input', { channels: 13, h: 5, w: 7, out: 3, bn: true }],
  ['13 channels of 1×1', { channels: 13, h: 1, w: 1, out: 5 }],
];

describe('the fusion pass', () => {
  test.each(HEADS)('%s: one gemm step reading the image, its prologue the mean', async (_, c) => {
    const steps = fuseAnyGraph(await streamModel(poolHead(c).bytes).complete()).steps;
    const head = steps.at(-1)!;
    expect(steps).toHaveLength(c.pre ? 2 : 1);
    expect(head).toMatchObject({ kind: 'gemm', op: 'global_avgpool+linear', prologue: 'mean_pixels', input: c.pre ? 1 : 0, inFeatures: c.channels, outFeatures: c.out });
    expect(head.nodes).toEqual(['avgpool', ...(c.bn ? ['bn'] : []), 'fc']); // the flatten vanishes
    expect(head.label).toBe(`fc (global_avgpool + ${c.bn ? 'batchnorm + ' : ''}linear)`);
  });

  test('a pool read by anything but one Linear stays a step of its own', async () => {
    const b = graphBuilder(3);
    const pooled = b.node('flatten', 'flatten', [b.node('global_avgpool', 'avgpool', ['x'])]);
    const twice = b.add('add', b.linear('fc1', pooled, 6, 4), b.linear('fc2', pooled, 6, 4)); // stacked: one GEMM, two readers
    const relu = b.node('activation', 'relu', [b.node('global_avgpool', 'pool2', ['x'])], {}, { fn: 'relu' }); // pool + relu, then the Linear
    const after = b.linear('fc3', b.node('flatten', 'flatten2', [relu]), 6, 4);
    const { bytes } = b.encode([6, 2, 2], b.add('sum', twice, after));
    const graph = await streamModel(bytes).complete();
    const steps = fuseAnyGraph(graph).steps;
    expect(steps.filter((s) => s.prologue)).toEqual([]);
    expect(steps.map((s) => s.op)).toContain('global_avgpool');
    expect(steps.map((s) => s.op)).toContain('global_avgpool+relu');
    const x = randomInput(2, 24, 5);
    for (const options of [{ device }, { backend: 'wasm' }] as LoadOptions[]) {
      const model = await loadModel(bytes, options);
      expectClose(await model.run(x), referenceForward(graph, x, 2), GPU_TOLERANCE); // f32 sums of 6 terms against float64
      await model.dispose();
    }
  });

  test.each(HEADS)('%s: the fused step in float64 computes what the graph does', async (_, c) => {
    const m = poolHead(c);
    const graph = await streamModel(m.bytes).complete();
    const x = randomInput(3, m.inputSize, 2);
    // Both float64; the BatchNorm's fold and the summation order differ, nothing else.
    expectClose(fusedForward(graph, x, 3), referenceForward(graph, x, 3), 1e-12);
  });
});

const BACKENDS: [string, () => LoadOptions][] = [
  ['WebGPU, f32', () => ({ device })],
  ['WebGPU, f16 weights', () => ({ device, precision: 'f16' })],
  ['WebGPU, gemv forced', () => ({ device, kernel: 'gemv' })],
  ['WebGPU, gemm_tiled forced', () => ({ device, kernel: 'gemm_tiled' })],
  ['WebAssembly, 1 thread', () => ({ backend: 'wasm', threads: 1 })],
  ['WebAssembly, 2 threads', () => ({ backend: 'wasm', threads: 2 })],
];

describe.each(BACKENDS)('%s', (name, options) => {
  const f16 = name.includes('f16');
  beforeAll(() => {
    wasmTuning.minFlopsForThreads = 0; // small models too take the threaded path
    return () => void (wasmTuning.minFlopsForThreads = 4e6);
  });

  test.each(HEADS)('%s: matches the reference at batch 1 and 3, and at another size', async (_, c) => {
    const m = poolHead(c);
    const graph = await streamModel(m.bytes).complete();
    const model = await loadModel(m.bytes, options());
    if (model.backend === 'webgpu') expect(model.describe().dispatches.at(-1)).toMatchObject({ kernel: 'global_avgpool+linear', variant: 'gemm_mean', inFeatures: c.channels });
    // f32 sums of at most 1029 means (each of up to 35 pixels) against float64: GPU_TOLERANCE's
    // reason. f16: against the same weights rounded to f16, as the packing does.
    for (const batch of [1, 3]) {
      const x = randomInput(batch, m.inputSize, batch + 10);
      expectClose(await model.run(x), f16 ? halfWeightsForward(graph, x, batch) : referenceForward(graph, x, batch), GPU_TOLERANCE);
    }
    const cpu = await loadModel(m.bytes, { backend: 'cpu' });
    const shape = [c.channels, c.h + 2, c.w + 1];
    const x = randomInput(2, shape[0]! * shape[1]! * shape[2]!, 4);
    // Another size, the same pool adapting to it; f16 moves each output by at most 2⁻¹¹ of Σ|w·mean| (compare.ts).
    expectClose(await model.run(x, { inputShape: shape }), await cpu.run(x, { inputShape: shape }), f16 ? 4e-3 : GPU_TOLERANCE);
    await Promise.all([model.dispose(), cpu.dispose()]);
  });

  test('NaN in one pixel gives NaN where PyTorch has it, and the padding channels leak nothing', async () => {
    const m = poolHead(HEADS[1]![1]);
    const graph = await streamModel(m.bytes).complete();
    const model = await loadModel(m.bytes, options());
    const x = randomInput(2, m.inputSize, 6);
    x[m.inputSize + 4 * 35 + 17] = NaN; // row 1, channel 4, one pixel
    const y = await model.run(x);
    const want = referenceForward(graph, x, 2);
    expect([...y].map(Number.isNaN)).toEqual([...want].map(Number.isNaN));
    expect([...y.subarray(0, 3)].some(Number.isNaN)).toBe(false); // row 0 untouched
    expect([...y.subarray(3)].every(Number.isNaN)).toBe(true);
    expectClose(y.subarray(0, 3), want.subarray(0, 3), f16 ? 4e-3 : GPU_TOLERANCE);
    await model.dispose();
  });

  test('deterministic: a row has the same bits alone and in a batch', async () => {
    if (name.includes('forced')) return; // deterministic mode forces its own GEMM kernel
    const m = poolHead(HEADS[0]![1]);
    const model = await loadModel(m.bytes, { ...options(), deterministic: true });
    const x = randomInput(5, m.inputSize, 9);
    const all = await model.run(x);
    for (const r of [0, 3]) expect(await model.run(x.slice(r * m.inputSize, (r + 1) * m.inputSize))).toEqual(all.slice(r * 300, (r + 1) * 300));
    await model.dispose();
  });
});

test('WebAssembly, deterministic: 1 and 2 threads give the same bits', async () => {
  wasmTuning.minFlopsForThreads = 0;
  try {
    const m = poolHead(HEADS[0]![1]);
    const x = randomInput(6, m.inputSize, 3);
    const [one, two] = await Promise.all([1, 2].map((threads) => loadModel(m.bytes, { backend: 'wasm', threads, deterministic: true })));
    expect(await two!.run(x)).toEqual(await one!.run(x));
    await Promise.all([one!.dispose(), two!.dispose()]);
  } finally {
    wasmTuning.minFlopsForThreads = 4e6;
  }
});
