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
