import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { KernelVariant } from '../src/index.js';
import { KERNEL_FAMILIES } from '../src/kernels/registry.js';
import { streamModel } from '../src/loader/index.js';
import { referenceForward } from '../src/runtime/reference/forward.js';
import { openChromePage, type ChromePage } from './helpers/chrome.js';
import { expectClose } from './helpers/compare.js';
import { halfWeightsForward } from './helpers/fused-reference.js';
import { makeRandomModel, randomInput, type ModelConfig } from './helpers/random-model.js';

/**
 * The kernel matrix in headless Chromium (the built bundle, on the page's WebGPU): every
 * variant forced at both weight precisions, against the float64 reference computed in Node
 * (for f16, on the same f16-rounded folded weights). A slice of test/kernel-matrix.node.test.ts:
 * the same odd widths, fewer batches, one shared device so pipelines compile once.
 */
let chrome: ChromePage;
beforeAll(async () => {
  chrome = await openChromePage();
});
afterAll(async () => {
  await chrome?.close();
});

const CASES: { name: string; config: ModelConfig; batches: number[] }[] = [
  { name: 'narrow', config: { input: 3, blocks: [{ hidden: 37, out: 1, bn: true }, { hidden: 3, bn: true }], head: { out: 37 }, seed: 31 }, batches: [1, 4, 7, 16, 17, 64, 1024] },
  {
    name: 'wide',
    config: { input: 255, stem: { out: 1000, activation: 'relu', bn: true }, blocks: [{ hidden: 1024, out: 255, bn: true }, { hidden: 37, bn: true }], head: { out: 1 }, seed: 32 },
    batches: [1, 16],
  },
];

const VARIANTS = Object.keys(KERNEL_FAMILIES) as KernelVariant[];

describe.each(CASES)('Chrome kernels: $name model', ({ name, config, batches }) => {
  test.each(VARIANTS.flatMap((kernel) => (['f32', 'f16'] as const).map((precision) => [kernel, precision] as const)))(
    '%s, %s weights',
    async (kernel, precision) => {
      const { bytes } = makeRandomModel(config);
      const spec = await streamModel(bytes).complete();
      const url = chrome.serve(`kernels-${name}.safetensors`, bytes);
      const tested = batches.filter((b) => b <= KERNEL_FAMILIES[kernel][precision].maxRows);
      const inputs = tested.map((b) => Array.from(randomInput(b, config.input, b)));
      const result = await chrome.page.evaluate(
        async (url, inputs, kernel, precision) => {
          if (!window.sharedDevice) {
            const adapter = await navigator.gpu.requestAdapter();
            window.sharedDevice = await adapter!.requestDevice({
              requiredLimits: { maxStorageBufferBindingSize: adapter!.limits.maxStorageBufferBindingSize, maxBufferSize: adapter!.limits.maxBufferSize },
            });
          }
          const model = await window.resgpu.loadModel(url, { device: window.sharedDevice, kernel, precision });
          const outputs = [];
          for (const x of inputs) outputs.push(Array.from(await model.run(new Float32Array(x))));
          const variants = [...new Set(model.describe({ batch: 1 }).dispatches.map((d) => d.variant))];
          await model.dispose();
          return { outputs, variants };
        },
        url,
        inputs,
        kernel,
        precision,
      );
      expect(result.variants).toEqual([kernel]);
      for (const [i, x] of inputs.entries()) {
        const expected = precision === 'f32' ? referenceForward(spec, x, tested[i]!) : halfWeightsForward(spec, x, tested[i]!);
        expectClose(result.outputs[i]!, expected);
      }
    },
  );
});
