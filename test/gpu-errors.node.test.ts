import { beforeAll, expect, test } from 'vitest';
import { AbortError, GpuLimitError, loadModel, OptionError, ResgpuError } from '../src/index.js';
import { streamModel } from '../src/loader/index.js';
import { expectClose } from './helpers/compare.js';
import { nodeDevice } from './helpers/node-gpu.js';
import { makeRandomModel, randomInput } from './helpers/random-model.js';
import { trackDevice } from './helpers/track.js';

/**
 * GPU failures become typed errors and leave a shared device as it was: error scopes
 * balanced, nothing allocated. The failures are real ones, from the real device (Dawn on
 * SwiftShader), induced at the moment of a chosen call.
 */
let device: GPUDevice;
beforeAll(async () => {
  device = await nodeDevice();
});

const model = makeRandomModel({ input: 6, blocks: [{ hidden: 5, bn: true }], head: { out: 2 } });

/** Counts error scopes pushed and popped on the device, until restored. */
function countScopes(d: GPUDevice) {
  const { pushErrorScope, popErrorScope } = d;
  const counts = { pushed: 0, popped: 0 };
  d.pushErrorScope = (filter) => (counts.pushed++, pushErrorScope.call(d, filter));
  d.popErrorScope = () => (counts.popped++, popErrorScope.call(d));
  return { counts, restore: () => Object.assign(d, { pushErrorScope, popErrorScope }) };
}

test('a shared device keeps balanced error scopes after a plan fails part way', async () => {
  const m = await loadModel(model.bytes, { device });
  const scopes = countScopes(device);
  const createBindGroup = device.createBindGroup;
  device.createBindGroup = () => {
    throw new TypeError('injected failure while making a bind group');
  };
  const tracker = trackDevice(device);
  try {
    await expect(m.run(randomInput(3, 6))).rejects.toThrow(/injected failure/);
  } finally {
    device.createBindGroup = createBindGroup;
    scopes.restore();
  }
  expect(scopes.counts.pushed).toBeGreaterThan(0);
  expect(scopes.counts.popped).toBe(scopes.counts.pushed);
  expect(tracker.liveBuffers()).toBe(0); // the failed plan's buffers were freed
  tracker.restore();
  // The next run makes the plan afresh and is right.
  const cpu = await loadModel(model.bytes, { backend: 'cpu' });
  const x = randomInput(3, 6, 1);
  expectClose(await m.run(x), await cpu.run(x));
  await m.dispose();
});

test('an out-of-memory weight allocation is a GpuLimitError, with nothing left allocated', async () => {
  // SwiftShader's Vulkan driver refuses a 1 GiB allocation with VK_ERROR_OUT_OF_DEVICE_MEMORY
  // (within WebGPU's limits, so it is a real out-of-memory error, not a validation one): the
  // weight buffer is asked at that size.
  const createBuffer = device.createBuffer;
  device.createBuffer = (d: GPUBufferDescriptor) => createBuffer.call(device, d.label === 'resgpu weights' ? { ...d, size: 2 ** 30 } : d);
  const scopes = countScopes(device);
  const tracker = trackDevice(device);
  try {
    const failure = loadModel(model.bytes, { device });
    await expect(failure).rejects.toBeInstanceOf(GpuLimitError);
    await expect(failure).rejects.toThrow(/Out of GPU memory while allocating/);
  } finally {
    device.createBuffer = createBuffer;
    scopes.restore();
  }
  expect(scopes.counts.popped).toBe(scopes.counts.pushed);
  expect(tracker.liveBuffers()).toBe(0);
  tracker.restore();
});

test('an unknown backend is an OptionError naming the backends there are', async () => {
  const failure = loadModel(model.bytes, { backend: 'tpu' as 'cpu' });
  await expect(failure).rejects.toBeInstanceOf(OptionError);
  await expect(failure).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  await expect(failure).rejects.toThrow(/'auto', 'webgpu', 'wasm', 'cpu', 'reference'/);
});

test("'reference' is the CPU reference under its other name", async () => {
  const m = await loadModel(model.bytes, { backend: 'reference' });
  expect(m.backend).toBe('cpu');
  await m.dispose();
});

test('a cancelled load rejects with an AbortError, a ResgpuError', async () => {
  // A stream that never ends: cancelling is the only way out.
  const body = new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(model.bytes.subarray(0, 16)) });
  const stream = streamModel(new Response(body, { headers: { 'Content-Length': String(model.bytes.byteLength) } }));
  stream.cancel();
  await expect(stream.finished).rejects.toBeInstanceOf(AbortError);
  await expect(stream.finished).rejects.toBeInstanceOf(ResgpuError);
  await expect(stream.finished).rejects.toMatchObject({ name: 'AbortError', code: 'ABORTED' });
});
