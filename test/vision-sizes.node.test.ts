import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { encodeSafetensors, InputError, loadModel, type Model } from '../src/index.js';
import { expectClose, GPU_TOLERANCE, pyFloats, pyNumber, scaledError } from './helpers/compare.js';
import { makeRandomCnn } from './helpers/random-cnn.js';
import { randomInput } from './helpers/random-model.js';
import { VISION_CASES_DIR } from './global-setup.js';
import { nodeDevice } from './helpers/node-gpu.js';

/**
 * run(x, { inputShape }): an image network loaded at one size runs at others, each with a plan
 * of its own, against PyTorch at those sizes (test/python/make_vision_cases.py's OTHER_SIZES,
 * odd sizes so that every stride-2 layer rounds). The loaded size keeps working in between.
 */
interface Size {
  input_shape: number[];
  x: (number | string)[];
  float64: (number | string)[];
}
interface Network {
  name: string;
  input_shape: number[];
  files: { pt?: string; safetensors: string; onnx: Record<string, string> };
  inputs: { rows: number; x: (number | string)[]; float64: (number | string)[] };
  sizes: Size[];
}

const networks = (JSON.parse(readFileSync(join(VISION_CASES_DIR, 'cases.json'), 'utf8')) as { networks: Network[] }).networks.filter((n) => n.sizes.length > 0);
const file = (name: string) => readFileSync(join(VISION_CASES_DIR, name));
// f32 convolutions over up to 4608 terms against float64: 2e-4 of the output scale (the bound the
// image ResNets are held to at their own size).
const TOLERANCE = 2e-4;

let device: GPUDevice;
beforeAll(async () => {
  device = await nodeDevice();
});

const BACKENDS = [
  ['webgpu', () => ({ device })],
  ['wasm', () => ({ backend: 'wasm' as const })],
  ['cpu', () => ({ backend: 'cpu' as const })],
] as const;

describe.each(networks)('$name at other input sizes', (c) => {
  test.each(BACKENDS)('%s: every size matches PyTorch, and the loaded one still does', async (_, options) => {
    const model = await loadModel(file(c.files.pt ?? c.files.safetensors), { ...options(), ...(c.files.pt && { inputShape: c.input_shape }) });
    const own = () => model.run(pyFloats(c.inputs.x)).then((y) => expect(scaledError(y, c.inputs.float64.map(pyNumber))).toBeLessThanOrEqual(TOLERANCE));
    await own();
    for (const size of c.sizes) {
      const y = await model.run(pyFloats(size.x), { inputShape: size.input_shape });
      expect(scaledError(y, size.float64.map(pyNumber))).toBeLessThanOrEqual(TOLERANCE);
      const d = model.describe({ batch: c.inputs.rows, inputShape: size.input_shape });
      expect(d.inputSize).toBe(size.input_shape.reduce((a, b) => a * b, 1));
      if (d.backend === 'webgpu') expect(d.dispatches).toHaveLength(model.describe().dispatches.length);
    }
    await own();
    expect(model.inputShape).toEqual(c.input_shape);
    await model.dispose();
  });
});

test.each(BACKENDS.slice(0, 2))('%s: a network ending on an image gives that size\'s image, as the reference does', async (_, options) => {
  const m = makeRandomCnn('bottleneck'); // [1, 16, 13] → [3, 4, 3]
  const reference = await loadModel(m.bytes, { backend: 'cpu' });
  const model = await loadModel(m.bytes, options());
  const shape = [1, 23, 18];
  const x = randomInput(2, 23 * 18, 11);
  const want = await reference.run(x, { inputShape: shape });
  expect(want.length).toBe(2 * model.describe({ inputShape: shape }).outputSize);
  expect(model.describe({ inputShape: shape }).outputSize).not.toBe(model.outputSize);
  // f32 kernels against the float64 reference (GPU_TOLERANCE's reason).
  expectClose(await model.run(x, { inputShape: shape }), want, GPU_TOLERANCE);
  expectClose(await model.run(randomInput(1, m.inputSize, 3)), await reference.run(randomInput(1, m.inputSize, 3)), GPU_TOLERANCE);
  await Promise.all([model.dispose(), reference.dispose()]);
});

describe('inputShape at run time, refused with the reason', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(file('basic_gray.pt'), { device, inputShape: [1, 32, 32] });
  });
  test.each([
    ['other channels', [3, 32, 32], /must keep its 1 channels \(\[1, H, W\]\)/],
    ['not a shape', [1, 0, 32], /inputShape must be a row shape without the batch/],
    ['two dimensions', [32, 32], /this model takes rows of \[1, 32, 32\]/],
  ])('%s', async (_, shape, message) => {
    const e = await model.run(new Float32Array(shape.reduce((a, b) => a * b, 1)), { inputShape: shape }).catch((e: unknown) => e);
    expect(e).toBeInstanceOf(InputError);
    expect((e as Error).message).toMatch(message);
  });
  test('an input whose length is not a whole number of images of that size', async () => {
    const e = await model.run(new Float32Array(17 * 23 + 1), { inputShape: [1, 17, 23] }).catch((e: unknown) => e);
    expect((e as Error).message).toMatch(/not a multiple of the model's input size 391 \(a row is \[1, 17, 23\], in NCHW order\)/);
  });
  test('a network whose Linear reads a flattened image takes one size only', async () => {
    // conv 1 → 2 channels, 3×3, on [1, 4, 4] → [2, 2, 2], flattened into a Linear of 8 inputs.
    const tensors = [
      { name: 'w', shape: [2, 1, 3, 3], data: new Float32Array(18).fill(0.5) },
      { name: 'fc', shape: [3, 8], data: new Float32Array(24).fill(0.25) },
    ];
    const graph = {
      format: 'resgpu-graph', version: 2, inputs: [{ name: 'x', shape: [1, 4, 4] }], outputs: ['y'],
      nodes: [
        { op: 'conv2d', name: 'conv', inputs: ['x'], output: 'c', params: { weight: 'w' }, attrs: {} },
        { op: 'flatten', name: 'flatten', inputs: ['c'], output: 'f', params: {}, attrs: {} },
        { op: 'linear', name: 'head', inputs: ['f'], output: 'y', params: { weight: 'fc' }, attrs: {} },
      ],
    };
    const flat = await loadModel({ weights: encodeSafetensors(tensors), graph: graph as never }, { backend: 'cpu' });
    expect(await flat.run(new Float32Array(16).fill(1))).toEqual(new Float32Array(3).fill(0.25 * 8 * 0.5 * 9));
    const e = await flat.run(new Float32Array(25), { inputShape: [1, 5, 5] }).catch((e: unknown) => e);
    expect(e).toBeInstanceOf(InputError);
    expect((e as Error).message).toMatch(/run\(\{ inputShape: \[1, 5, 5\] \}\) does not fit this model: Linear "head" .*8/);
    await flat.dispose();
  });
});
