import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { loadModel, SelfTestError, type LoadOptions } from '../src/index.js';
import { FAMILY_CASES_DIR } from './global-setup.js';
import { nodeDevice } from './helpers/node-gpu.js';

/**
 * Golden vectors: the exporter records input rows and PyTorch's outputs in the file; at load
 * resgpu runs them on the chosen backend and refuses the model when they do not come out within
 * the stated tolerance (a file altered after export, a device that computes wrongly).
 */
let device: GPUDevice;
beforeAll(async () => {
  device = await nodeDevice();
});

const file = (name: string) => new Uint8Array(readFileSync(join(FAMILY_CASES_DIR, name)));

/** The safetensors file with the first floats of one tensor multiplied, in place (same size, same header). */
function altered(bytes: Uint8Array, tensor: string, factor: number, count = 21): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(out.subarray(8, 8 + n))) as Record<string, { data_offsets: [number, number] }>;
  for (let i = 0; i < count; i++) {
    const at = 8 + n + header[tensor]!.data_offsets[0] + 4 * i;
    view.setFloat32(at, view.getFloat32(at, true) * factor, true);
  }
  return out;
}

const backends: [string, () => LoadOptions][] = [
  ['WebGPU', () => ({ device })],
  ['WebGPU, f16 weights', () => ({ device, precision: 'f16' })],
  ['the reference', () => ({ backend: 'cpu' })],
];

describe.each(backends)('on %s', (_, options) => {
  test.each(['seed', 'rtdl', 'gelu_ln'])('the exporter’s %s file passes its self-test at load', async (family) => {
    const model = await loadModel(file(`${family}.safetensors`), options());
    expect(model.selfTest).toMatchObject({ rows: 8, source: expect.stringMatching(/^resgpu exporter, torch 1\.13/) });
    expect(model.selfTest!.worstError).toBeLessThanOrEqual(model.selfTest!.tolerance);
    console.log(`self-test of ${family} on ${model.backend} (${model.describe().precision}): ${model.selfTest!.ms.toFixed(2)} ms, worst error ${model.selfTest!.worstError.toExponential(2)}`);
    await model.dispose();
  });

  test('a weight altered after export is refused with a SelfTestError naming where and how far off', async () => {
    const bytes = altered(file('rtdl.safetensors'), 'head.linear.weight', -2);
    const failure = loadModel(bytes, options());
    await expect(failure).rejects.toBeInstanceOf(SelfTestError);
    const e = (await failure.catch((x: unknown) => x)) as SelfTestError;
    expect(e.message).toMatch(/failed its self-test on (webgpu|cpu).*golden row \d+, output \d+ is off by .* beyond the (0\.0001|0\.004) allowed/);
    expect(e.worst.error).toBeGreaterThan(e.worst.tolerance);
    expect(e.where.backend).toMatch(/webgpu|cpu/);
    if (e.where.backend === 'webgpu') expect(e.where.variants).toEqual(['gemm']);
  });
});

test('selfTest: false loads an altered file unchecked; model.selfTest is then null', async () => {
  const model = await loadModel(altered(file('rtdl.safetensors'), 'head.linear.weight', -2), { backend: 'cpu', selfTest: false });
  expect(model.selfTest).toBeNull();
});

test('goldenVectors checks a file that carries none (ONNX); wrong expectations are refused', async () => {
  const cases = JSON.parse(readFileSync(join(FAMILY_CASES_DIR, 'cases.json'), 'utf8')) as { families: { name: string; inputs: { rows: number; x: number[]; float64: number[] } }[] };
  const c = cases.families.find((f) => f.name === 'widedeep')!;
  const goldenVectors = { inputs: Float32Array.from(c.inputs.x), outputs: Float64Array.from(c.inputs.float64), source: 'PyTorch, in the test' };
  const model = await loadModel(file('widedeep.opset17.onnx'), { device, goldenVectors });
  expect(model.selfTest).toMatchObject({ rows: c.inputs.rows, source: 'PyTorch, in the test' });
  await model.dispose();
  const wrong = { ...goldenVectors, outputs: goldenVectors.outputs.map((v, i) => (i === 4 ? v + 0.1 : v)) };
  await expect(loadModel(file('widedeep.opset17.onnx'), { device, goldenVectors: wrong })).rejects.toThrow(/golden row 1, output 1 is off/);
  await expect(loadModel(file('widedeep.opset17.onnx'), { device, goldenVectors: { inputs: [[1, 2]], outputs: [[1]] } })).rejects.toThrow(/goldenVectors: every golden inputs row must hold 13 values/);
});
