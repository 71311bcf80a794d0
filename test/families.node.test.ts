import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { GraphError, loadModel, type LoadOptions } from '../src/index.js';
import { FAMILY_CASES_DIR } from './global-setup.js';
import { expectClose, F16_TOLERANCE, GPU_TOLERANCE, pyFloats, pyNumber } from './helpers/compare.js';
import { nodeDevice } from './helpers/node-gpu.js';

/**
 * The residual families of the literature (test/python/families.py: rtdl's pre-norm tabular
 * ResNet, pytorch-widedeep's TabResnet with LeakyReLU, pre-LN MLPs with GELU (erf and tanh) and
 * SiLU, and the seed), made, saved and run by real PyTorch at test time; each file (exporter
 * safetensors, ONNX at opsets 13 and 17) must give PyTorch's outputs on every backend, in the
 * dispatch count the fusion pass promises. A bare state_dict of a family beyond the seed's is
 * refused, naming the fix.
 */
interface Rows {
  rows: number;
  x: (number | string)[];
  float32: (number | string)[];
  float64: (number | string)[];
}
interface FamilyCase {
  name: string;
  input_size: number;
  output_size: number;
  dispatches: number;
  files: { pt: string; safetensors: string; onnx: Record<string, string> };
  inputs: Rows;
  special: Rows;
}

const num = pyNumber;
const floats = pyFloats;
const cases = (): FamilyCase[] => (JSON.parse(readFileSync(join(FAMILY_CASES_DIR, 'cases.json'), 'utf8')) as { families: FamilyCase[] }).families.map((c) => ({ ...c, input_size: Number(c.input_size), output_size: Number(c.output_size), dispatches: Number(c.dispatches) }));
const bytes = (name: string) => readFileSync(join(FAMILY_CASES_DIR, name));

/** NaN where PyTorch has NaN, the same infinity, finite values within the stated tolerance. */
function expectSameSpecials(actual: Float32Array, expected: number[], tolerance: number) {
  expected.forEach((e, i) => {
    const a = actual[i]!;
    const ok = Number.isNaN(e) ? Number.isNaN(a) : Number.isFinite(e) ? Math.abs(a - e) <= tolerance * Math.max(1, Math.abs(e)) : a === e;
    expect(ok, `output ${i}: ${a}, PyTorch ${e}`).toBe(true);
  });
}

let device: GPUDevice;
beforeAll(async () => {
  device = await nodeDevice();
});

const backends: [string, () => LoadOptions][] = [
  ['the float64 reference', () => ({ backend: 'cpu' })],
  ['WebGPU', () => ({ device })],
  ['WebGPU, f16 weights', () => ({ device, precision: 'f16' })],
  ['WebGPU, gemv forced', () => ({ device, kernel: 'gemv' })],
  ['WebGPU, gemm_tiled forced', () => ({ device, kernel: 'gemm_tiled' })],
];

describe.each(cases())('$name', (c) => {
  const files = [c.files.safetensors, ...Object.values(c.files.onnx)];
  test.each(files)('%s matches PyTorch on every backend, in the promised dispatches', async (file) => {
    for (const [what, options] of backends) {
      const model = await loadModel(bytes(file), options());
      expect([model.inputSize, model.outputSize]).toEqual([c.input_size, c.output_size]);
      const y = await model.run(floats(c.inputs.x));
      // 1e-4 of the output scale against PyTorch's f32 model (test/helpers/compare.ts); f16 weights: the f16 tolerance.
      expectClose(y, c.inputs.float32.map(num), what.includes('f16') ? F16_TOLERANCE : GPU_TOLERANCE);
      if (model.backend === 'webgpu') expect(model.describe().dispatches, what).toHaveLength(c.dispatches);
      if (!what.includes('f16')) expectSameSpecials(await model.run(floats(c.special.x)), c.special.float32.map(num), GPU_TOLERANCE);
      await model.dispose();
    }
  });

  test(`${c.files.pt}: ${c.name === 'seed' ? 'a bare state_dict of the seed loads and matches PyTorch' : 'a bare state_dict is refused, naming the exporter and ONNX'}`, async () => {
    const load = loadModel(bytes(c.files.pt), { backend: 'cpu' });
    if (c.name === 'seed') {
      expectClose(await (await load).run(floats(c.inputs.x)), c.inputs.float32.map(num));
      return;
    }
    await expect(load).rejects.toBeInstanceOf(GraphError);
    await expect(load).rejects.toThrow(/export_resgpu\.py.*torch\.onnx\.export|torch\.onnx\.export.*export/s);
  });
});
