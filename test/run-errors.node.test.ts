import { expect, test } from 'vitest';
import { GpuValidationError, loadModel } from '../src/index.js';
import { nodeDevice } from './helpers/node-gpu.js';
import { makeRandomModel, randomInput } from './helpers/random-model.js';

/**
 * A command the GPU refuses during a run becomes a typed error, not an uncaptured
 * GPUValidationError and a result of zeros. Made here by destroying the model's weight buffer
 * behind its back (submitting a destroyed buffer is a validation error).
 */
test('a GPU validation error during run() rejects with GpuValidationError, and the device keeps balanced scopes', async () => {
  const device = await nodeDevice();
  let weights: GPUBuffer | undefined;
  const createBuffer = device.createBuffer.bind(device);
  device.createBuffer = (d: GPUBufferDescriptor) => {
    const b = createBuffer(d);
    if (d.label === 'resgpu weights') weights = b;
    return b;
  };
  const uncaptured: string[] = [];
  device.addEventListener('uncapturederror', (e) => uncaptured.push((e as GPUUncapturedErrorEvent).error.message));
  const { bytes } = makeRandomModel({ input: 6, blocks: [{ hidden: 8 }] });
  const model = await loadModel(bytes, { device });
  await model.run(randomInput(2, 6));
  weights!.destroy();
  const failure = model.run(randomInput(2, 6));
  await expect(failure).rejects.toBeInstanceOf(GpuValidationError);
  await expect(failure).rejects.toThrow(/The GPU rejected running a batch of 2/);
  expect(uncaptured).toEqual([]);
  // Scopes were popped: a validation error made now on the caller's own is still uncaptured, not swallowed by ours.
  device.createBuffer({ size: 4, usage: 0 });
  await new Promise((ok) => setTimeout(ok, 200));
  expect(uncaptured.length).toBe(1);
  await model.dispose();
});
