import { describe, expect, test } from 'vitest';
import { DisposedError, InputError, loadModel, type LoadProgress, type Model } from '../src/index.js';
import { MODEL_CASES } from './helpers/cases.js';
import { expectClose } from './helpers/compare.js';
import { makeRandomModel, randomInput, type ModelConfig } from './helpers/random-model.js';

/**
 * backend: 'wasm' in Node against the float64 reference, on one thread and on two (worker
 * threads sharing the memory). Tolerance: the same 1e-4 · max(1, |ref|) as WebGPU
 * (test/helpers/compare.ts): f32 products summed in f32, in a different order than the
 * reference (4 partial sums per column in the one-row kernel) and with or without fused
 * multiply-adds; each of those moves results by a few ulps per dot product, far below 1e-4,
 * while a wrong index, stride or padding gives errors of order 1.
 */
const THREADS = [1, 2];

async function expectWasmMatchesReference(config: ModelConfig, batches: number[], threads: number): Promise<Model> {
  const { bytes } = makeRandomModel(config);
  const wasm = await loadModel(bytes, { backend: 'wasm', threads });
  const cpu = await loadModel(bytes, { backend: 'cpu' });
  expect(wasm.backend).toBe('wasm');
  for (const batch of batches) {
    const x = randomInput(batch, config.input, batch);
    expectClose(await wasm.run(x), await cpu.run(x));
  }
  return wasm;
}

describe.each(THREADS)('wasm, %i thread(s)', (threads) => {
  describe.each(MODEL_CASES)('$name', ({ config, batches }) => {
    test(`matches the CPU reference at batches ${batches.join(', ')}`, async () => {
      const m = await expectWasmMatchesReference(config, batches, threads);
      expect((m as unknown as { threads: number }).threads).toBe(threads);
      await m.dispose();
    });
  });

  test('odd widths 1, 3, 37, 255, 1000 and every batch from 1 to 9, then 16, 17, 64, 255, 513', async () => {
    const config: ModelConfig = {
      input: 37,
      blocks: [{ hidden: 255, out: 3, bn: true }, { hidden: 1, bn: true }, { hidden: 1000, out: 37, bn: true }, { hidden: 37, projection: true }],
      head: { out: 1, bn: true },
      seed: 11,
    };
    const m = await expectWasmMatchesReference(config, [1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 64, 255, 513], threads);
    await m.dispose();
  });
});
