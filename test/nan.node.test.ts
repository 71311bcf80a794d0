import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { encodeSafetensors, GRAPH_METADATA_KEY, InputError, loadModel, type LoadOptions } from '../src/index.js';
import { TORCH_CASES_DIR } from './global-setup.js';
import { GPU_TOLERANCE } from './helpers/compare.js';
import { nodeDevice } from './helpers/node-gpu.js';
import { makeRandomModel, randomInput, type ModelConfig } from './helpers/random-model.js';

/**
 * PyTorch's NaN semantics on every backend: NaN and ±Inf propagate (ReLU(NaN) = NaN,
 * ReLU(−Inf) = 0, Inf · 0 = NaN), and a non-finite value in one row never touches another row
 * or a column PyTorch keeps finite. Expected outputs come from PyTorch (a recorded case) and
 * from the float64 reference, whose plain arithmetic has the same IEEE rules.
 */
let device: GPUDevice;
beforeAll(async () => {
  device = await nodeDevice();
});

// Every WebGPU kernel forced (each writes padded columns as exact zeros and keeps NaN in its
// ReLU), the WebAssembly backend, and the reference itself.
const backends: [string, () => LoadOptions][] = [
  ['webgpu, gemm', () => ({ device, kernel: 'gemm' })],
  ['webgpu, gemv', () => ({ device, kernel: 'gemv' })],
  ['webgpu, gemm_tiled', () => ({ device, kernel: 'gemm_tiled' })],
  ['wasm', () => ({ backend: 'wasm' })],
  ['cpu', () => ({ backend: 'cpu' })],
];

/**
 * NaN where expected is NaN, the same infinity where expected is infinite, and finite values
 * within GPU_TOLERANCE (compare.ts: f32 with folded BatchNorm against f64 or PyTorch's f32).
 */
function expectSameNonFinite(actual: ArrayLike<number>, expected: ArrayLike<number>, width: number): void {
  expect(actual.length).toBe(expected.length);
  const wrong: string[] = [];
  for (let i = 0; i < expected.length; i++) {
    const [a, e] = [actual[i]!, expected[i]!];
    const ok = Number.isNaN(e) ? Number.isNaN(a) : Number.isFinite(e) ? Math.abs(a - e) <= GPU_TOLERANCE * Math.max(1, Math.abs(e)) : a === e;
    if (!ok) wrong.push(`row ${Math.floor(i / width)} col ${i % width}: got ${a}, expected ${e}`);
  }
  expect(wrong).toEqual([]);
}

/** Rows of x with NaN, +Inf, −Inf, a row of −Inf (ReLU makes it 0), mixed ±Inf, a row of NaN; row 0 stays finite. */
function poisoned(rows: number, width: number, seed: number): Float32Array {
  const x = randomInput(rows, width, seed);
  const set = (r: number, c: number, v: number) => r < rows && (x[r * width + (c % width)] = v);
  set(1, 2, NaN);
  set(2, 0, Infinity);
  set(3, width - 1, -Infinity);
  for (let c = 0; c < width; c++) set(4, c, -Infinity);
  set(5, 1, Infinity);
  set(5, 3, -Infinity);
  for (let c = 0; c < width; c++) set(6, c, NaN);
  return x;
}

// Every step op (linear, linear_relu, residual_identity, residual_projection), widths off the
// 8-column padding so padded columns are exercised, at batches on both sides of small-batch kernels.
const MODELS: [string, ModelConfig][] = [
  ['linear_relu then linear', { input: 5, blocks: [], stem: { out: 7, activation: 'relu' }, head: { out: 3 } }],
  ['linear with BatchNorm', { input: 9, blocks: [], head: { out: 13, bn: true, activation: 'relu' } }],
  ['residual_identity blocks', { input: 6, blocks: [{ hidden: 11, bn: true }, { hidden: 3 }], head: { out: 2 } }],
  ['residual_projection blocks', { input: 5, blocks: [{ hidden: 9, out: 3, bn: true }, { hidden: 17, out: 10, projection: true }] }],
];

describe.each(backends)('%s', (backendName, options) => {
  test.each(MODELS)('%s: non-finite inputs propagate as in the float64 reference, rows stay apart', async (_, config) => {
    const { bytes, outputSize } = makeRandomModel({ ...config, seed: 3 });
    const model = await loadModel(bytes, options());
    const reference = await loadModel(bytes, { backend: 'cpu' });
    for (const batch of [8, 9, 70]) {
      const x = poisoned(batch, config.input, batch);
      const expected = await reference.run(x);
      expectSameNonFinite(await model.run(x), expected, outputSize);
      // The finite row stays finite: no NaN leaked through padding or shared buffers.
      expect(Array.from(expected.subarray(0, outputSize)).every(Number.isFinite)).toBe(true);
    }
    await model.dispose();
  });

  test('NaN and Inf weights propagate as in the reference (ReLU does not swallow them)', async () => {
    const { tensors, manifest } = makeRandomModel({ input: 6, blocks: [{ hidden: 10, bn: true }], head: { out: 3 }, seed: 4 });
    const poison = tensors.map((t) => {
      if (!('data' in t)) return t;
      const data = t.data.slice();
      if (t.name === 'blocks.0.linear1.weight') data[7] = NaN; // row 0 of hidden unit 1
      if (t.name === 'head.bias') data[2] = Infinity;
      return { ...t, data };
    });
    const bytes = encodeSafetensors(poison, { [GRAPH_METADATA_KEY]: JSON.stringify(manifest) });
    const model = await loadModel(bytes, options());
    const x = randomInput(5, 6, 1);
    const expected = await (await loadModel(bytes, { backend: 'cpu' })).run(x);
    expect(expected.some(Number.isNaN)).toBe(true);
    expectSameNonFinite(await model.run(x), expected, 3);
    await model.dispose();
  });

  test('the recorded PyTorch case: NaN and ±Inf inputs give PyTorch\'s NaN, Inf and finite outputs', async () => {
    const dir = join(TORCH_CASES_DIR, 'nonfinite');
    const c = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as { x: (number | string)[]; y: (number | string)[]; output_size: number };
    const decode = (v: number | string) => (typeof v === 'number' ? v : Number(v.replace('inf', 'Infinity')));
    const model = await loadModel(readFileSync(join(dir, 'model.pt')), options());
    const y = c.y.map(decode);
    expect(y.some(Number.isNaN) && y.some(Number.isFinite)).toBe(true);
    expectSameNonFinite(await model.run(Float32Array.from(c.x.map(decode))), y, c.output_size);
    await model.dispose();
  });

  test('rejectNonFinite: an InputError naming the row and column', async () => {
    const { bytes } = makeRandomModel({ input: 4, blocks: [{ hidden: 5 }], seed: 2 });
    const model = await loadModel(bytes, { ...options(), rejectNonFinite: true });
    const x = randomInput(3, 4, 1);
    expect((await model.run(x)).length).toBe(12);
    x[2 * 4 + 1] = -Infinity;
    const failure = model.run(x);
    await expect(failure).rejects.toBeInstanceOf(InputError);
    await expect(failure).rejects.toThrow(/row 2, column 1 \(both counted from 0\) is -Infinity.*rejectNonFinite/);
    x[2 * 4 + 1] = 0;
    x[3] = NaN;
    await expect(model.run(x)).rejects.toThrow(/row 0, column 3 .* is NaN/);
    await model.dispose();
  });
});

test.each(['pt-1123-72215.bin', 'onnx-1123-33376.bin'])(
  'fuzz crasher %s: a weight that folding pushes past float32 is refused on WebGPU (it gave NaN where the reference is finite)',
  async (name) => {
    const { GraphError } = await import('../src/index.js');
    const bytes = readFileSync(new URL(`./fuzz-crashers/${name}`, import.meta.url));
    await expect(loadModel(bytes, { backend: 'cpu' })).resolves.toBeTruthy(); // float64 holds it
    const failure = loadModel(bytes, { device });
    await expect(failure).rejects.toBeInstanceOf(GraphError);
    await expect(failure).rejects.toThrow(/beyond float32's range/);
  },
);
