import { readdirSync, readFileSync } from 'node:fs';
import { beforeAll, expect, test } from 'vitest';
import { loadModel, ResgpuError } from '../src/index.js';
import { runCampaign, type Format } from './fuzz/campaign.js';
import { seedsFor } from './fuzz/seeds.js';
import { nodeDevice } from './helpers/node-gpu.js';

/**
 * The CI slice of `npm run fuzz` (test/fuzz/campaign.ts): a fixed seed and a few thousand
 * cases per format through loadModel and run(), some of them through WebGPU too. The full
 * campaign runs 100,000 per format. Crashers it found are kept in test/fuzz-crashers/.
 */
let device: GPUDevice;
beforeAll(async () => {
  device = await nodeDevice();
});

const CASES: Record<Format, number> = { pt: Number(process.env.SLICE ?? 1500), safetensors: Number(process.env.SLICE ?? 2000), onnx: Number(process.env.SLICE ?? 1500), manifest: Number(process.env.SLICE ?? 2000) };

test.each(Object.keys(CASES) as Format[])('%s: mutations give only typed errors, no slow case, and WebGPU agrees with the reference', async (format) => {
  const result = await runCampaign(format, seedsFor(format), { cases: CASES[format], seed: 20261123, device, gpuEvery: 40 });
  expect(result.failures).toEqual([]);
  expect(result.refused).toBeGreaterThan(CASES[format] / 10); // the mutations do reach the parsers
  expect(result.loaded).toBeGreaterThan(0);
});

test('crashers kept from fuzzing load or fail with typed errors', async () => {
  const dir = new URL('./fuzz-crashers/', import.meta.url);
  const files = readdirSync(dir).filter((f) => f.endsWith('.bin'));
  for (const f of files) {
    const bytes = new Uint8Array(readFileSync(new URL(f, dir)));
    const graphFile = new URL(f.replace(/\.bin$/, '.graph.json'), dir);
    let graph: Uint8Array | undefined; // JSON text as bytes: a string would be read as a URL
    try {
      graph = new Uint8Array(readFileSync(graphFile));
    } catch {
      graph = undefined;
    }
    const outcome = await loadModel(graph === undefined ? bytes : { weights: bytes, graph }, { backend: 'cpu' }).then(
      async (m) => (await m.run(new Float32Array(m.inputSize)), 'ran'),
      (e: unknown) => (e instanceof ResgpuError ? 'refused' : `untyped: ${String(e)}`),
    );
    expect([f, outcome]).not.toContainEqual(expect.stringMatching(/^untyped/));
  }
});

test('crashers where WebGPU once disagreed with the reference agree now (LayerNorm rows near 1e20–1e33)', async () => {
  // Fuzzing found weights mutated to 1e22–1e33: LayerNorm squared the deviations past f32's range,
  // the variance became infinite and the rows came out as β. The kernel now scales before squaring.
  const dir = new URL('./fuzz-crashers/', import.meta.url);
  for (const f of ['onnx-20261202-30159.bin', 'onnx-20261202-56836.bin', 'onnx-20261202-90849.bin', 'safetensors-20261202-67698.bin']) {
    const bytes = new Uint8Array(readFileSync(new URL(f, dir)));
    const reference = await loadModel(bytes, { backend: 'cpu' });
    const gpu = await loadModel(bytes, { device });
    const x = Float32Array.from({ length: reference.inputSize }, (_, i) => Math.sin(i));
    const [want, got] = [await reference.run(x), await gpu.run(x)];
    want.forEach((w, i) => expect(Math.abs(got[i]! - w), `${f} output ${i}`).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(w))));
    await gpu.dispose();
  }
});
