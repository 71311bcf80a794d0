import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, expect, test } from 'vitest';
import { loadModel } from '../src/index.js';
import { FAMILY_CASES_DIR } from './global-setup.js';
import { nodeDevice } from './helpers/node-gpu.js';
import { randomInput } from './helpers/random-model.js';

/**
 * A WebGPU load lets go of the file's buffer when it returns (StreamedModel.release), but only
 * of a buffer it allocated itself: bytes the caller handed over stay whole, and the model runs
 * on from its weights on the device. Outputs against the float64 reference, to f32 accuracy.
 */
const EXAMPLE = resolve(import.meta.dirname, '../examples/breast_cancer.pt');
const x = randomInput(3, 30);
let device: GPUDevice;
let expected: Float32Array;
beforeAll(async () => {
  device = await nodeDevice();
  const reference = await loadModel(readFileSync(EXAMPLE), { backend: 'cpu' });
  expected = await reference.run(x);
  await reference.dispose();
});

function expectClose(y: Float32Array) {
  expect(y.length).toBe(expected.length);
  for (let i = 0; i < y.length; i++) expect(Math.abs(y[i]! - expected[i]!)).toBeLessThanOrEqual(1e-5 * Math.abs(expected[i]!) + 1e-4);
}

test('bytes the caller hands over are not released: same length, same bytes after the load', async () => {
  const bytes = new Uint8Array(readFileSync(EXAMPLE));
  const copy = bytes.slice();
  for (const fingerprint of [true, false]) {
    const model = await loadModel(bytes, { device, fingerprint });
    expect(bytes.byteLength).toBe(copy.byteLength);
    expect(bytes).toEqual(copy);
    const y = await model.run(x);
    expectClose(y);
    await model.dispose();
  }
});

test('a file read from disk is released after the load, and the model still runs and describes itself', async () => {
  for (const fingerprint of [true, false]) {
    const model = await loadModel(EXAMPLE, { device, fingerprint });
    const y = await model.run(x);
    expectClose(y);
    expect(model.describe().layers.length).toBeGreaterThan(0);
    if (fingerprint) expect(model.fingerprint!.file).toMatch(/^sha256:[0-9a-f]{64}$/);
    await model.dispose();
  }
});

test.each(['gelu_ln.safetensors', 'gelu_ln.opset17.onnx', 'seed.pt'])('%s read from disk (released) runs as the same file handed over as bytes (kept)', async (name) => {
  const path = resolve(FAMILY_CASES_DIR, name);
  const fromBytes = await loadModel(new Uint8Array(readFileSync(path)), { device });
  const fromDisk = await loadModel(path, { device });
  const input = randomInput(4, fromBytes.inputSize);
  const a = await fromBytes.run(input);
  const b = await fromDisk.run(input);
  expect(b.length).toBe(a.length);
  expect(Array.from(b)).toEqual(Array.from(a));
  await fromBytes.dispose();
  await fromDisk.dispose();
});
