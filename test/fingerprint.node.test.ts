import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, test } from 'vitest';
import { loadModel } from '../src/index.js';
import { FAMILY_CASES_DIR } from './global-setup.js';
import { nodeDevice } from './helpers/node-gpu.js';

/**
 * model.fingerprint: the same model agrees through the exporter's safetensors, ONNX at opsets 13
 * and 17, and (for the seed, whose graph a state_dict proves) the bare .pt, on every backend;
 * one changed weight changes it; the file's own hash tells the files apart.
 */
let device: GPUDevice;
beforeAll(async () => {
  device = await nodeDevice();
});
const file = (name: string) => new Uint8Array(readFileSync(join(FAMILY_CASES_DIR, name)));

test.each(['seed', 'rtdl', 'widedeep', 'gelu_ln'])('%s: one model fingerprint through every file format and backend', async (family) => {
  const files = [`${family}.safetensors`, `${family}.opset13.onnx`, `${family}.opset17.onnx`, ...(family === 'seed' ? ['seed.pt'] : [])];
  const prints = [];
  for (const f of files) {
    for (const options of [{ backend: 'cpu' as const }, { device }, { backend: 'wasm' as const }]) {
      const model = await loadModel(file(f), options);
      expect(model.fingerprint!.model).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(model.describe().fingerprint).toEqual(model.fingerprint);
      prints.push({ f, model: model.fingerprint!.model, file: model.fingerprint!.file });
      await model.dispose();
    }
  }
  expect(new Set(prints.map((p) => p.model)).size).toBe(1);
  // The files differ (formats, names), and their hashes say so.
  expect(new Set(prints.map((p) => p.file)).size).toBe(files.length);
});

test('one changed weight changes the model fingerprint; the same bytes give the same one', async () => {
  const bytes = file('rtdl.safetensors');
  const changed = bytes.slice();
  const view = new DataView(changed.buffer);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(changed.subarray(8, 8 + n))) as Record<string, { data_offsets: [number, number] }>;
  const at = 8 + n + header['blocks.0.linear0.weight']!.data_offsets[0] + 4 * 7;
  view.setFloat32(at, Math.fround(view.getFloat32(at, true) * (1 + 2 ** -20)), true);
  const options = { backend: 'cpu' as const, selfTest: false };
  const [a, b, c] = await Promise.all([loadModel(bytes, options), loadModel(bytes.slice(), options), loadModel(changed, options)]);
  expect(a.fingerprint).toEqual(b.fingerprint);
  expect(c.fingerprint!.model).not.toBe(a.fingerprint!.model);
  expect(c.fingerprint!.file).not.toBe(a.fingerprint!.file);
});
