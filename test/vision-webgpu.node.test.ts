import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { encodeSafetensors, loadModel } from '../src/index.js';
import { F16_TOLERANCE, pyFloats, pyNumber, scaledError } from './helpers/compare.js';
import { VISION_CASES_DIR } from './global-setup.js';
import { nodeDevice } from './helpers/node-gpu.js';

/**
 * The torchvision image ResNets of test/python/make_vision_cases.py (resnet18, a grayscale
 * BasicBlock ResNet, a narrow Bottleneck one, and the other image ops) on WebGPU (SwiftShader),
 * against PyTorch: from the bare .pt (with inputShape), the exporter's .safetensors and ONNX, in
 * f32 (2e-4 of the output scale) and f16 weights (the f16 tolerance), in the dispatch counts of
 * the fusion (BasicBlock 2, Bottleneck 3); and PyTorch's pooling of NaN and ±Inf.
 */
interface Network {
  name: string;
  input_shape: number[];
  files: { pt?: string; safetensors: string; onnx: Record<string, string> };
  inputs: { rows: number; x: (number | string)[]; float32: (number | string)[] };
}
interface Cases {
  networks: Network[];
  pooling: { x: (number | string)[]; shape: number[]; ops: { op: string; attrs: Record<string, unknown>; float32: (number | string)[] }[] };
  asymmetric_conv: { input_shape: number[]; output_shape: number[]; weight_shape: number[]; weight: number[]; bias: number[]; attrs: Record<string, unknown>; x: (number | string)[]; float64: number[] };
}

const cases = (): Cases => JSON.parse(readFileSync(join(VISION_CASES_DIR, 'cases.json'), 'utf8')) as Cases;
const file = (name: string) => readFileSync(join(VISION_CASES_DIR, name));
const num = pyNumber;
const floats = pyFloats;

/** Stem + max pooling, the blocks (2 dispatches a BasicBlock, 3 a Bottleneck), global pooling and fc in one (its prologue). */
const DISPATCHES: Record<string, number> = {
  resnet18: 2 + 8 * 2 + 1,
  basic_gray: 2 + 5 * 2 + 1,
  bottleneck: 2 + 4 * 3 + 1,
  // BatchNorm on the input (before a padded conv: its own step), conv + ReLU, four poolings, global pooling + fc.
  pooling: 1 + 1 + 4 + 1,
};

let device: GPUDevice;
beforeAll(async () => {
  device = await nodeDevice();
});

describe.each(cases().networks)('$name', (c) => {
  const loads: [string, string, boolean][] = [
    ...(c.files.pt ? [[`${c.files.pt} (a bare state_dict)`, c.files.pt, true] as [string, string, boolean]] : []),
    [c.files.safetensors, c.files.safetensors, false],
    ...Object.values(c.files.onnx).map((f): [string, string, boolean] => [f, f, false]),
  ];
  test.each(loads)('%s matches PyTorch on WebGPU, f32 and f16 weights', async (_, name, bare) => {
    for (const precision of ['f32', 'f16'] as const) {
      const model = await loadModel(file(name), { device, precision, ...(bare && { inputShape: c.input_shape }) });
      expect(model.describe().dispatches).toHaveLength(DISPATCHES[c.name]!);
      expect(model.describe().dispatches.at(-1), 'global pooling + fc').toMatchObject({ kernel: 'global_avgpool+linear', variant: 'gemm_mean' });
      const y = await model.run(floats(c.inputs.x));
      expect(scaledError(y, c.inputs.float32.map(num))).toBeLessThanOrEqual(precision === 'f32' ? 2e-4 : F16_TOLERANCE);
      await model.dispose();
    }
  });
});

describe('pooling of NaN and ±Inf on WebGPU, as PyTorch', () => {
  test.each(cases().pooling.ops)('$op', async (p) => {
    const graph = { format: 'resgpu-graph', version: 2, inputs: [{ name: 'x', shape: cases().pooling.shape }], outputs: ['y'], nodes: [{ op: p.op, inputs: ['x'], output: 'y', attrs: p.attrs }] };
    const model = await loadModel({ weights: encodeSafetensors([]), graph: graph as never }, { device });
    const y = await model.run(floats(cases().pooling.x));
    expect([...y].map(String)).toEqual(p.float32.map((v) => String(num(v))));
    await model.dispose();
  });
});

test('a conv padded unequally per side ([top, left, bottom, right]) computes F.pad + F.conv2d, its image output back in NCHW', async () => {
  const c = cases().asymmetric_conv;
  const weights = encodeSafetensors([
    { name: 'w', shape: c.weight_shape, data: Float64Array.from(c.weight) },
    { name: 'b', shape: [c.bias.length], data: Float64Array.from(c.bias) },
  ]);
  const node = { op: 'conv2d', inputs: ['x'], output: 'y', params: { weight: 'w', bias: 'b' }, attrs: c.attrs };
  const graph = { format: 'resgpu-graph', version: 2, inputs: [{ name: 'x', shape: c.input_shape }], outputs: ['y'], nodes: [node] };
  const model = await loadModel({ weights, graph: graph as never }, { device });
  expect(scaledError(await model.run(floats(c.x)), c.float64)).toBeLessThanOrEqual(2e-6);
  await model.dispose();
});
