import { beforeAll, describe, expect, test } from 'vitest';
import { loadModel } from '../src/index.js';
import { expectGpuMatchesReference } from './helpers/against-reference.js';
import { expectClose } from './helpers/compare.js';
import { nodeDevice } from './helpers/node-gpu.js';
import { makeRandomModel, randomInput, type ModelConfig } from './helpers/random-model.js';

/**
 * The gemm kernel's variants on WebGPU (Dawn + SwiftShader) against the CPU reference, over
 * shapes chosen to hit every edge of the 4 x 8 tile and the 8 x 8 workgroup: sizes of 1, sizes
 * just off multiples of 4 and 8, sizes spanning several workgroups, batches 1 to 513.
 */
let device: GPUDevice;
beforeAll(async () => {
  device = await nodeDevice();
});

const checkAgainstReference = (config: ModelConfig, batch: number) => expectGpuMatchesReference(device, config, batch);

// [batch, in, out]
const LINEAR_SHAPES: [number, number, number][] = [
  [1, 1, 1], [1, 3, 37], [3, 37, 3], [37, 255, 1], [2, 8, 8], [5, 9, 17], [64, 64, 64],
  [255, 37, 255], [513, 3, 1000], [1, 1000, 1000], [100, 1000, 37], [513, 255, 255],
];

describe('linear and linear_relu', () => {
  test.each(LINEAR_SHAPES)('batch %i, %i → %i', async (batch, input, out) => {
    await checkAgainstReference({ input, blocks: [], head: { out, activation: 'relu' }, seed: batch + input }, batch);
    await checkAgainstReference({ input, blocks: [], head: { out, activation: 'none', bn: true }, seed: out }, batch);
  });
});

// [batch, width, hidden]
const IDENTITY_SHAPES: [number, number, number][] = [[1, 1, 1], [3, 37, 255], [37, 255, 3], [513, 64, 200], [7, 1000, 37]];

describe('residual_identity', () => {
  test.each(IDENTITY_SHAPES)('batch %i, width %i, hidden %i', async (batch, width, hidden) => {
    await checkAgainstReference({ input: width, blocks: [{ hidden, bn: true }], seed: hidden }, batch);
  });
});

// [batch, in, hidden, out]
const PROJECTION_SHAPES: [number, number, number, number][] = [
  [1, 1, 1, 3], [3, 37, 200, 3], [37, 3, 255, 37], [513, 100, 64, 255], [9, 1000, 37, 1000], [2, 16, 16, 16],
];

describe('residual_projection', () => {
  test.each(PROJECTION_SHAPES)('batch %i, %i → hidden %i → %i', async (batch, input, hidden, out) => {
    await checkAgainstReference({ input, blocks: [{ hidden, out, projection: true, bn: true }], seed: out }, batch);
  });
});

test('every batch size from 1 to 20 and a sweep up to 513 on one model', async () => {
  const config: ModelConfig = { input: 13, blocks: [{ hidden: 29, bn: true }, { hidden: 11, out: 6, bn: true }], seed: 11 };
  const { bytes } = makeRandomModel(config);
  const gpu = await loadModel(bytes, { device, maxCachedPlans: 2 });
  const cpu = await loadModel(bytes, { backend: 'cpu' });
  const batches = [...Array.from({ length: 20 }, (_, i) => i + 1), 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 512, 513];
  for (const batch of batches) {
    const x = randomInput(batch, config.input, batch);
    const y = await gpu.run(x);
    expect(y.length).toBe(batch * 6);
    expectClose(y, await cpu.run(x));
  }
  await gpu.dispose();
});
