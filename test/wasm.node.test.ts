import { afterEach, describe, expect, test } from 'vitest';
import { DisposedError, InputError, loadModel, OptionError, type LoadProgress, type Model } from '../src/index.js';
import { wasmTuning } from '../src/runtime/wasm/wasm-model.js';
import type { WorkerPool } from '../src/runtime/wasm/threads.js';
import { MODEL_CASES } from './helpers/cases.js';
import { expectClose } from './helpers/compare.js';
import { makeRandomModel, randomInput, type ModelConfig } from './helpers/random-model.js';

/**
 * backend: 'wasm' in Node against the float64 reference, on one thread and on two (worker
 * threads sharing the memory; every run threaded, however small, by lowering the threshold).
 * Tolerance: the same 1e-4 · max(1, |ref|) as WebGPU (test/helpers/compare.ts): f32 products
 * summed in f32, in another order than the reference (four partial sums per column in the
 * one-row kernel) and with or without fused multiply-adds; each moves a dot product by a few
 * ulps, far below 1e-4, while a wrong index, stride, padding or thread share gives errors of
 * order 1.
 */
const THREADS = [1, 2];
const defaultTuning = { ...wasmTuning };
afterEach(() => Object.assign(wasmTuning, defaultTuning));

const internals = (m: Model) => m as unknown as { threads: number; simd: string; pool: WorkerPool | null };

async function expectWasmMatchesReference(config: ModelConfig, batches: number[], threads: number): Promise<void> {
  wasmTuning.minFlopsForThreads = 0; // thread every run: the threaded path on every shape
  const { bytes } = makeRandomModel(config);
  const wasm = await loadModel(bytes, { backend: 'wasm', threads });
  const cpu = await loadModel(bytes, { backend: 'cpu' });
  expect(wasm.backend).toBe('wasm');
  expect(internals(wasm).threads).toBe(threads);
  for (const batch of batches) {
    const x = randomInput(batch, config.input, batch);
    expectClose(await wasm.run(x), await cpu.run(x));
  }
  await wasm.dispose();
}

describe.each(THREADS)('wasm, %i thread(s)', (threads) => {
  describe.each(MODEL_CASES)('$name', ({ config, batches }) => {
    test(`matches the CPU reference at batches ${batches.join(', ')}`, () => expectWasmMatchesReference(config, batches, threads));
  });

  test('odd widths 1, 3, 37, 255, 1000 at every batch from 1 to 9, and 16, 17, 64, 255, 513', () =>
    expectWasmMatchesReference(
      {
        input: 37,
        blocks: [{ hidden: 255, out: 3, bn: true }, { hidden: 1, bn: true }, { hidden: 1000, out: 37, bn: true }, { hidden: 37, projection: true }],
        head: { out: 1, bn: true },
        seed: 11,
      },
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 64, 255, 513],
      threads,
    ));

  test('NaN in a row gives NaN in that row only, as in PyTorch (ReLU(NaN) = NaN)', async () => {
    wasmTuning.minFlopsForThreads = 0;
    const config: ModelConfig = { input: 10, blocks: [{ hidden: 24, bn: true }, { hidden: 16, out: 12 }], head: { out: 3, activation: 'relu' } };
    const { bytes } = makeRandomModel(config);
    const wasm = await loadModel(bytes, { backend: 'wasm', threads });
    const cpu = await loadModel(bytes, { backend: 'cpu' });
    const x = randomInput(9, 10);
    x[4 * 10 + 3] = NaN; // row 4
    const [y, ref] = [await wasm.run(x), await cpu.run(x)];
    const rowIsNaN = (v: Float32Array, r: number) => Array.from(v.subarray(r * 3, r * 3 + 3)).every(Number.isNaN);
    expect(rowIsNaN(ref, 4)).toBe(true); // the reference says what PyTorch does
    expect(rowIsNaN(y, 4)).toBe(true);
    for (const r of [0, 1, 2, 3, 5, 6, 7, 8]) expectClose(y.subarray(r * 3, r * 3 + 3), ref.subarray(r * 3, r * 3 + 3));
    await wasm.dispose();
  });

  test('overlapping runs each get their own result; a run copies its input', async () => {
    const { bytes } = makeRandomModel({ input: 30, blocks: [{ hidden: 64, bn: true }, { hidden: 64, out: 16, bn: true }], head: { out: 2 } });
    const wasm = await loadModel(bytes, { backend: 'wasm', threads });
    const cpu = await loadModel(bytes, { backend: 'cpu' });
    const inputs = Array.from({ length: 24 }, (_, i) => randomInput(1 + (i % 5) * 7, 30, i));
    const expected = await Promise.all(inputs.map((x) => cpu.run(x)));
    const outputs = inputs.map((x) => wasm.run(x));
    for (const x of inputs) x.fill(1000);
    for (const [i, y] of (await Promise.all(outputs)).entries()) expectClose(y, expected[i]!);
    await wasm.dispose();
  });
});

describe('the wasm model', () => {
  const model = makeRandomModel({ input: 6, blocks: [{ hidden: 5, bn: true }], head: { out: 2 } });

  test('typed errors: input, disposal, a bad threads option', async () => {
    const m = await loadModel(model.bytes, { backend: 'wasm' });
    await expect(m.run(new Float32Array(7))).rejects.toThrow(/7 floats, not a multiple of the model's input size 6/);
    await expect(m.run(new Float32Array(0))).rejects.toBeInstanceOf(InputError);
    expect(() => m.describe({ batch: 0 })).toThrow(InputError);
    const started = m.run(randomInput(4, 6));
    const disposed = m.dispose();
    await expect(m.run(randomInput(1, 6))).rejects.toBeInstanceOf(DisposedError);
    expect(() => m.describe()).toThrow(DisposedError);
    expect((await started).length).toBe(8); // runs already started finish
    await disposed;
    await m.dispose(); // twice is harmless
    await expect(loadModel(model.bytes, { backend: 'wasm', threads: 0 })).rejects.toBeInstanceOf(OptionError);
  });

  test('describe() names the backend and the layers, with no dispatches', async () => {
    const m = await loadModel(model.bytes, { backend: 'wasm' });
    const d = m.describe({ batch: 64 });
    expect(d).toMatchObject({ backend: 'wasm', inputSize: 6, outputSize: 2, batch: 64, dispatches: [], submitsPerRun: 0, adapter: null });
    expect(d.layers.map((l) => [l.type, l.shortcut])).toEqual([['residual_block', 'identity'], ['linear', undefined]]);
    await m.dispose();
  });

  test('dispose() ends the worker threads', async () => {
    const m = await loadModel(model.bytes, { backend: 'wasm', threads: 3 });
    const pool = internals(m).pool!;
    expect(pool.size).toBe(2); // Node: the calling thread is the third
    await m.run(randomInput(2, 6));
    await m.dispose();
    await expect(Promise.race([pool.exited.then(() => 'exited'), new Promise((r) => setTimeout(() => r('still running'), 5000))])).resolves.toBe('exited');
  });

  test.each(THREADS)('a batch larger than one chunk of activations runs chunk by chunk (%i thread(s))', async (threads) => {
    wasmTuning.minFlopsForThreads = 0;
    const { bytes } = makeRandomModel({ input: 8, blocks: [{ hidden: 40, out: 24 }], head: { out: 3 } });
    const wasm = await loadModel(bytes, { backend: 'wasm', threads });
    const cpu = await loadModel(bytes, { backend: 'cpu' });
    // 3 buffers of 40 floats (160 bytes) per row: 16 KiB of activations hold 32 rows, so 101 rows take 4 chunks.
    wasmTuning.chunkBytes = 16 << 10;
    const x = randomInput(101, 8);
    expectClose(await wasm.run(x), await cpu.run(x));
    await wasm.dispose();
  });

  test('loads as the file streams, reporting parse, fold, upload and compile', async () => {
    const { createServer } = await import('node:http');
    const { bytes } = makeRandomModel({ input: 8, blocks: [{ hidden: 300 }, { hidden: 300 }] });
    const server = createServer((_, res) => res.writeHead(200, { 'Content-Length': bytes.byteLength }).end(bytes));
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const { port } = server.address() as { port: number };
    const progress: LoadProgress[] = [];
    try {
      const m = await loadModel(`http://127.0.0.1:${port}/m.safetensors`, { backend: 'wasm', onProgress: (p) => progress.push(p) });
      expect([...new Set(progress.map((p) => p.stage))]).toEqual(['download', 'parse', 'fold', 'upload', 'compile']);
      expect(progress.filter((p) => p.stage === 'download').at(-1)).toEqual({ stage: 'download', loadedBytes: bytes.byteLength, totalBytes: bytes.byteLength });
      const uploads = progress.filter((p) => p.stage === 'upload');
      expect(uploads.at(-1)!.loadedBytes).toBe(uploads.at(-1)!.totalBytes);
      await m.dispose();
    } finally {
      server.close();
    }
  });
});
