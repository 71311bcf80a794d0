import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { loadModel, type LoadOptions } from '../src/index.js';
import { pyFloats, pyNumber, scaledError } from './helpers/compare.js';
import { VISION_CASES_DIR } from './global-setup.js';
import { nodeDevice } from './helpers/node-gpu.js';

/**
 * torchvision's own resnet34 and resnet50 (test/python/make_vision_cases.py's TORCHVISION: random
 * weights, randomized BatchNorms, 10 classes, small images) from the bare .pt state_dict, the
 * exporter's file and ONNX, against PyTorch in float64, on every backend, with the fusion's
 * dispatch counts: the stem's conv and max pooling, 2 per BasicBlock and 3 per Bottleneck
 * (downsamples stacked into them), then global pooling and fc in one (the fc's prologue).
 */
interface Torchvision {
  name: string;
  input_shape: number[];
  files: { pt: string; safetensors: string; onnx: string };
  x: (number | string)[];
  float64: (number | string)[];
}
const networks = (JSON.parse(readFileSync(join(VISION_CASES_DIR, 'cases.json'), 'utf8')) as { torchvision: Torchvision[] }).torchvision;
// f32 convolutions summing up to 4608 products a layer, 50 layers deep, against float64: the
// issue's bound, 2e-4 of the output scale.
const TOLERANCE = 2e-4;
const DISPATCHES: Record<string, number> = { resnet34: 2 + 16 * 2 + 1, resnet50: 2 + 16 * 3 + 1 };

let device: GPUDevice;
beforeAll(async () => {
  device = await nodeDevice();
});

const BACKENDS: [string, () => LoadOptions][] = [
  ['cpu', () => ({ backend: 'cpu' })],
  ['webgpu', () => ({ device })],
  ['wasm', () => ({ backend: 'wasm' })],
];

describe.each(networks)('torchvision $name', (c) => {
  test.each(BACKENDS)('from .pt, the exporter and ONNX on %s, matches PyTorch', async (backend, options) => {
    for (const [file, extra] of [[c.files.pt, { inputShape: c.input_shape }], [c.files.safetensors, {}], [c.files.onnx, {}]] as const) {
      const model = await loadModel(readFileSync(join(VISION_CASES_DIR, file)), { ...options(), ...extra });
      const y = await model.run(pyFloats(c.x));
      expect(scaledError(y, c.float64.map(pyNumber)), `${file} on ${backend}`).toBeLessThanOrEqual(TOLERANCE);
      if (backend === 'webgpu') {
        expect(model.describe().dispatches).toHaveLength(DISPATCHES[c.name]!);
        expect(model.describe().dispatches.at(-1), 'global pooling + fc').toMatchObject({ kernel: 'global_avgpool+linear', variant: 'gemm_mean', nodes: ['avgpool', 'fc'].map((n) => expect.stringContaining(n)) });
      }
      await model.dispose();
    }
  }, 120_000);
});
