import { beforeAll, describe, expect, test } from 'vitest';
import { loadModel, type KernelVariant } from '../src/index.js';
import { KERNEL_FAMILIES } from '../src/kernels/registry.js';
import { streamModel } from '../src/loader/index.js';
import { referenceForward } from '../src/runtime/reference/forward.js';
import { expectClose } from './helpers/compare.js';
import { halfWeightsForward } from './helpers/fused-reference.js';
import { nodeDevice } from './helpers/node-gpu.js';
import { makeRandomModel, randomInput, type ModelConfig } from './helpers/random-model.js';

/**
 * Every kernel variant, forced, at both weight precisions, against the float64 reference, on
 * the odd widths 1, 3, 37, 255, 1000 and 1024 (as layers' inputs and outputs, through every
 * fused op: linear, linear + ReLU, identity and projection residuals) and the batches
 * 1, 2, 3, 4, 7, 16, 17, 64, 513 and 1024: narrow widths at every batch, wide ones at the
 * batches that cross row-group and tile edges. A variant is chosen automatically only up to its
 * maxRows, and checked up to there (gemv: 16 rows; past that it is only ever forced).
 * f32 is compared with the reference itself; f16 with the reference on the same f16-rounded
 * folded weights (helpers/half-reference.ts): both within the usual GPU tolerance.
 */
let device: GPUDevice;
beforeAll(async () => {
  device = await nodeDevice();
});

const ALL_BATCHES = [1, 2, 3, 4, 7, 16, 17, 64, 513, 1024];

const CASES: { name: string; config: ModelConfig; batches: number[] }[] = [
  {
    name: 'narrow: 3 → (37 → 1 projection) → (3, identity) → 37',
    config: { input: 3, blocks: [{ hidden: 37, out: 1, bn: true }, { hidden: 3, bn: true }], head: { out: 37 }, seed: 21 },
    batches: ALL_BATCHES,
  },
  {
    name: 'wide: 255 → stem 1000 → (1024 → 255 projection) → (37, identity) → 1',
    config: {
      input: 255,
      stem: { out: 1000, activation: 'relu', bn: true },
      blocks: [{ hidden: 1024, out: 255, bn: true }, { hidden: 37, bn: true }],
      head: { out: 1 },
      seed: 22,
    },
    batches: [1, 16, 17, 513],
  },
];

const VARIANTS = Object.keys(KERNEL_FAMILIES) as KernelVariant[];

describe.each(VARIANTS.flatMap((kernel) => (['f32', 'f16'] as const).map((precision) => [kernel, precision] as const)))('%s, %s weights', (kernel, precision) => {
  test.each(CASES)('$name', async ({ config, batches }) => {
    const { bytes } = makeRandomModel(config);
    const spec = await streamModel(bytes).complete();
    const model = await loadModel(bytes, { device, kernel, precision });
    const maxRows = KERNEL_FAMILIES[kernel][precision].maxRows;
    for (const batch of batches.filter((b) => b <= maxRows)) {
      const d = model.describe({ batch });
      expect(new Set(d.dispatches.map((x) => x.variant))).toEqual(new Set([kernel]));
      expect(d.precision).toBe(precision);
      const x = randomInput(batch, config.input, batch);
      const expected = precision === 'f32' ? referenceForward(spec, x, batch) : halfWeightsForward(spec, x, batch);
      expectClose(await model.run(x), expected);
    }
    await model.dispose();
  });
});
