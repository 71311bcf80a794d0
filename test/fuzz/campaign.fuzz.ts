import { expect, test } from 'vitest';
import { nodeDevice } from '../helpers/node-gpu.js';
import { runCampaign, type CampaignResult, type Format } from './campaign.js';
import { seedsFor } from './seeds.js';

/**
 * The full fuzz campaign: FUZZ_CASES (default 100,000) mutations per format through loadModel
 * and run() on the reference, one loadable case in FUZZ_GPU_EVERY (default 50) through WebGPU
 * too; FUZZ_SEED picks the campaign (default: today's). Failing inputs go to test/fuzz-crashers/
 * (keep them: the test suite replays them). Prints one line per format.
 */
const cases = Number(process.env.FUZZ_CASES ?? 100_000);
const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Date.now() / 86_400_000));
const formats = (process.env.FUZZ_FORMATS ?? 'pt,safetensors,onnx,manifest').split(',') as Format[];

test('fuzz campaign', async () => {
  const device = await nodeDevice();
  const results: CampaignResult[] = [];
  // Read every seed now: a test run started meanwhile regenerates test/.generated.
  const seeds = new Map(formats.map((f) => [f, seedsFor(f)]));
  for (const format of formats) {
    const r = await runCampaign(format, seeds.get(format)!, {
      cases,
      seed,
      device,
      gpuEvery: Number(process.env.FUZZ_GPU_EVERY ?? 50),
      crashDir: new URL('../fuzz-crashers/', import.meta.url).pathname,
    });
    results.push(r);
    console.log(
      `[fuzz] ${format}: ${r.cases} cases in ${r.seconds.toFixed(0)} s (seed ${seed}): ${r.refused} refused (typed), ${r.loaded} loaded and ran, ` +
        `${r.gpuCompared} compared on WebGPU, ${r.nonFiniteOutputs} with non-finite outputs (mutated weights), slowest ${r.slowestMs.toFixed(0)} ms, ` +
        `peak RSS ${r.peakRssMiB.toFixed(0)} MiB, ${r.failures.length} failures${r.failures.length ? `:\n  ${r.failures.slice(0, 20).join('\n  ')}` : ''}`,
    );
  }
  expect(results.flatMap((r) => r.failures)).toEqual([]);
});
