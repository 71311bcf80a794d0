import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import {
  DeviceLostError,
  DisposedError,
  GpuLimitError,
  GraphError,
  InputError,
  loadModel,
  WebGPUUnavailableError,
  type LoadProgress,
} from '../src/index.js';
import { expectGpuMatchesReference } from './helpers/against-reference.js';
import { MODEL_CASES } from './helpers/cases.js';
import { expectClose } from './helpers/compare.js';
import { nodeDevice, nodeGpu } from './helpers/node-gpu.js';
import { makeRandomModel, randomInput } from './helpers/random-model.js';
import { trackDevice, type DeviceTracker } from './helpers/track.js';

let device: GPUDevice;
let tracker: DeviceTracker;
beforeAll(async () => {
  device = await nodeDevice();
});
afterEach(() => tracker?.restore());

describe.each(MODEL_CASES)('$name', ({ config, batches }) => {
  test.each(batches)('matches the CPU reference at batch %i', (batch) => expectGpuMatchesReference(device, config, batch));
});

describe('the plan', () => {
  const model = makeRandomModel({
    input: 30,
    stem: { out: 32, activation: 'relu' },
    blocks: [{ hidden: 64, bn: true }, { hidden: 64, out: 16, bn: true }, { hidden: 16 }],
    head: { out: 2 },
  });

  test('costs two dispatches per residual block and one per plain layer', async () => {
    const m = await loadModel(model.bytes, { device });
    const d = m.describe({ batch: 100 });
    expect(d.dispatches.map((x) => x.kernel)).toEqual([
      'linear_relu',
      'linear_relu', 'residual_identity',
      'linear_relu', 'residual_projection',
      'linear_relu', 'residual_identity',
      'linear',
    ]);
    expect(d.dispatches[4]).toMatchObject({ inFeatures: 64, outFeatures: 16, shortcutFeatures: 32, batch: 100 });
    expect(d.layers.map((l) => l.shortcut)).toEqual([undefined, 'identity', 'projection', 'identity', undefined]);
    expect(d.layers[2]!.foldedBatchNorms).toEqual(['blocks.1.bn1', 'blocks.1.bn2', 'blocks.1.shortcut.1']);
    expect(d.submitsPerRun).toBe(1);
    await m.dispose();
  });

  test('submits once per run and reuses three activation buffers however deep the model', async () => {
    tracker = trackDevice(device);
    const m = await loadModel(model.bytes, { device });
    const afterLoad = tracker.liveBuffers();
    expect(afterLoad).toBe(1); // all weights in one buffer
    await m.run(randomInput(3, 30));
    // 3 activation buffers (ping-pong plus the block input), uniforms, read-back.
    expect(tracker.liveBuffers() - afterLoad).toBe(5);
    const before = tracker.submits();
    for (let i = 0; i < 5; i++) await m.run(randomInput(3, 30, i));
    expect(tracker.submits() - before).toBe(5);
    expect(tracker.liveBuffers() - afterLoad).toBe(5); // the batch-3 plan was reused
    await m.dispose();
    expect(tracker.liveBuffers()).toBe(0);
  });

  test('keeps at most maxCachedPlans batch sizes and frees the rest', async () => {
    tracker = trackDevice(device);
    const m = await loadModel(model.bytes, { device, maxCachedPlans: 2 });
    for (const batch of [1, 2, 3, 4, 1, 5]) await m.run(randomInput(batch, 30));
    expect(tracker.liveBuffers()).toBe(1 + 2 * 5);
    await m.dispose();
    expect(tracker.liveBuffers()).toBe(0);
  });

  test('overlapping runs each get their own correct result', async () => {
    const gpu = await loadModel(model.bytes, { device, maxCachedPlans: 2 });
    const cpu = await loadModel(model.bytes, { backend: 'cpu' });
    const inputs = Array.from({ length: 24 }, (_, i) => randomInput(1 + (i % 5) * 7, 30, i));
    const outputs = await Promise.all(inputs.map((x) => gpu.run(x)));
    for (const [i, x] of inputs.entries()) expectClose(outputs[i]!, await cpu.run(x));
    await gpu.dispose();
  });

  test('a run copies its input, so the caller may reuse the array at once', async () => {
    const gpu = await loadModel(model.bytes, { device });
    const cpu = await loadModel(model.bytes, { backend: 'cpu' });
    const x = randomInput(2, 30);
    const expected = await cpu.run(x);
    const pending = [gpu.run(x), gpu.run(x)];
    x.fill(1000);
    for (const y of await Promise.all(pending)) expectClose(y, expected);
    await gpu.dispose();
  });
});

describe('errors', () => {
  const model = makeRandomModel({ input: 6, blocks: [{ hidden: 5, bn: true }], head: { out: 2 } });

  test('rejects input of the wrong length, empty input and non-Float32Array input', async () => {
    for (const backend of ['webgpu', 'cpu'] as const) {
      const m = await loadModel(model.bytes, { device, backend });
      await expect(m.run(new Float32Array(7))).rejects.toThrow(/7 floats, not a multiple of the model's input size 6/);
      await expect(m.run(new Float32Array(0))).rejects.toBeInstanceOf(InputError);
      await expect(m.run([1, 2, 3, 4, 5, 6] as unknown as Float32Array)).rejects.toThrow(/takes a Float32Array/);
      expect(() => m.describe({ batch: 0 })).toThrow(InputError);
      await m.dispose();
    }
  });

  test('run and describe after dispose fail with DisposedError; runs already started finish', async () => {
    tracker = trackDevice(device);
    const m = await loadModel(model.bytes, { device });
    const started = m.run(randomInput(4, 6));
    const disposed = m.dispose();
    await expect(m.run(randomInput(1, 6))).rejects.toBeInstanceOf(DisposedError);
    expect(() => m.describe()).toThrow(DisposedError);
    expect((await started).length).toBe(8);
    await disposed;
    await m.dispose(); // twice is harmless
    expect(tracker.liveBuffers()).toBe(0);
  });

  test('a bad graph fails before anything is allocated on the GPU', async () => {
    tracker = trackDevice(device);
    const graph = structuredClone(model.manifest);
    (graph.layers[0] as { linear2: string }).linear2 = 'missing';
    await expect(loadModel({ weights: model.bytes, graph }, { device })).rejects.toBeInstanceOf(GraphError);
    expect(tracker.liveBuffers()).toBe(0);
  });

  test('a batch beyond the device limits fails with GpuLimitError, naming the largest batch allowed', async () => {
    tracker = trackDevice(device);
    const m = await loadModel(model.bytes, { device });
    expect(() => m.describe({ batch: 2 ** 40 })).toThrow(GpuLimitError);
    expect(() => m.describe({ batch: 2 ** 40 })).toThrow(/at most \d+ rows/);
    await m.dispose();
    expect(tracker.liveBuffers()).toBe(0);
  });

  test('a lost device fails later runs with DeviceLostError', async () => {
    const own = await nodeDevice();
    const m = await loadModel(model.bytes, { device: own });
    own.destroy();
    await own.lost;
    await expect(m.run(randomInput(1, 6))).rejects.toBeInstanceOf(DeviceLostError);
    await m.dispose();
  });

  test('without WebGPU, loadModel says how to enable it or choose the CPU backend', async () => {
    const failure = loadModel(model.bytes, { backend: 'webgpu' }); // the default, 'auto', would take wasm
    await expect(failure).rejects.toBeInstanceOf(WebGPUUnavailableError);
    await expect(failure).rejects.toThrow(/backend: 'cpu'/);
  });
});

test('loads through a GPU object it was given, reporting progress, and owns that device', async () => {
  const stages: LoadProgress['stage'][] = [];
  const { bytes } = makeRandomModel({ input: 4, blocks: [{ hidden: 8 }] });
  const m = await loadModel(bytes, { gpu: await nodeGpu(), onProgress: (p) => stages.push(p.stage) });
  expect([...new Set(stages)]).toEqual(['parse', 'fold', 'upload', 'compile']);
  expect(m.describe().adapter).not.toBeNull();
  expect((await m.run(new Float32Array(4))).length).toBe(4);
  await m.dispose();
});

test('a URL is downloaded as a stream, with progress up to the full length', async () => {
  const { createServer } = await import('node:http');
  const { bytes } = makeRandomModel({ input: 8, blocks: [{ hidden: 300 }, { hidden: 300 }] });
  const server = createServer((_, res) => res.writeHead(200, { 'Content-Length': bytes.byteLength }).end(bytes));
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as { port: number };
  const progress: LoadProgress[] = [];
  try {
    const m = await loadModel(`http://127.0.0.1:${port}/model.safetensors`, { device, onProgress: (p) => progress.push(p) });
    const downloads = progress.filter((p) => p.stage === 'download');
    expect(downloads.length).toBeGreaterThan(1);
    expect(downloads.at(-1)).toEqual({ stage: 'download', loadedBytes: bytes.byteLength, totalBytes: bytes.byteLength });
    expect(progress.at(-1)!.stage).toBe('compile');
    await m.dispose();
  } finally {
    server.close();
  }
});

test('profile: true times the kernels of each run with timestamp queries', async () => {
  const { bytes } = makeRandomModel({ input: 16, blocks: [{ hidden: 64 }, { hidden: 64 }] });
  const adapter = await (await nodeGpu()).requestAdapter();
  expect(adapter!.features.has('timestamp-query')).toBe(true); // SwiftShader and real GPUs offer it
  const profiled = await loadModel(bytes, { gpu: await nodeGpu(), profile: true });
  expect(profiled.lastRunGpuMs).toBeNull();
  await profiled.run(randomInput(32, 16));
  expect(profiled.lastRunGpuMs).toBeGreaterThan(0);
  expect(profiled.lastRunGpuMs).toBeLessThan(10_000);
  await profiled.dispose();
  const plain = await loadModel(bytes, { device });
  await plain.run(randomInput(32, 16));
  expect(plain.lastRunGpuMs).toBeNull();
  await plain.dispose();
});
