import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, ResgpuError, type GraphManifest, type Model } from '../../src/index.js';
import { rng } from '../helpers/random-model.js';
import { blind, mutateManifest, mutateOnnx, mutatePt, mutateSafetensors, type Rng } from './mutate.js';

/**
 * A fuzz campaign over one format: mutated valid files through loadModel and run() on the CPU
 * reference, every `gpuEvery`-th loadable one through WebGPU as well. Properties checked per case:
 * only typed errors (ResgpuError) escape; no case takes over 2 s; a model that loads runs a
 * finite input and gives outputs of the right length (the 2 s count the reference's load and
 * run; a WebGPU comparison adds compilation); WebGPU agrees with the reference (same
 * NaN and infinities; finite values within 1e-3 relative, looser than compare.ts's 1e-4 since
 * mutated weights reach magnitudes where f32 and f64 part ways; outputs past 1e30 are skipped,
 * as f32 overflows where float64 does not). Each case is seeded by (campaign seed, index), so
 * any failure replays alone; failing inputs are written to `crashDir`.
 */
export type Format = 'pt' | 'safetensors' | 'onnx' | 'manifest';

export interface Seed {
  name: string;
  bytes: Uint8Array;
  /** For 'manifest': the graph mutated and passed with `bytes` as the weights. */
  manifest?: GraphManifest;
}

export interface CampaignOptions {
  cases: number;
  seed: number;
  device?: GPUDevice;
  gpuEvery?: number;
  crashDir?: string;
}

export interface CampaignResult {
  format: Format;
  cases: number;
  loaded: number;
  refused: number;
  gpuCompared: number;
  nonFiniteOutputs: number;
  failures: string[];
  slowestMs: number;
  seconds: number;
  peakRssMiB: number;
}

const SLOW_MS = 2000;
const GPU_TOLERANCE = 1e-3;

function mutant(format: Format, seed: Seed, r: Rng): { bytes: Uint8Array; graph?: unknown } {
  switch (format) {
    case 'pt':
      return { bytes: mutatePt(seed.bytes, r) };
    case 'safetensors':
      return { bytes: mutateSafetensors(seed.bytes, r) };
    case 'onnx':
      return { bytes: mutateOnnx(seed.bytes, r) };
    case 'manifest':
      return { bytes: seed.bytes, graph: r() < 0.1 ? blind(new TextEncoder().encode(JSON.stringify(seed.manifest)), r) : mutateManifest(seed.manifest as never, r) };
  }
}

function disagreement(gpu: Float32Array, ref: Float32Array): string | null {
  for (let i = 0; i < ref.length; i++) {
    const [a, e] = [gpu[i]!, ref[i]!];
    if (Math.abs(e) > 1e30) continue;
    const ok = Number.isNaN(e) ? Number.isNaN(a) : Number.isFinite(e) ? Math.abs(a - e) <= GPU_TOLERANCE * Math.max(1, Math.abs(e)) : a === e;
    if (!ok) return `output ${i}: WebGPU ${a}, reference ${e}`;
  }
  return null;
}

export async function runCampaign(format: Format, seeds: Seed[], options: CampaignOptions): Promise<CampaignResult> {
  const result: CampaignResult = { format, cases: 0, loaded: 0, refused: 0, gpuCompared: 0, nonFiniteOutputs: 0, failures: [], slowestMs: 0, seconds: 0, peakRssMiB: 0 };
  const started = performance.now();
  const crash = (i: number, what: string, bytes: Uint8Array, graph?: unknown) => {
    result.failures.push(`${format} case ${options.seed}/${i}: ${what}`);
    if (!options.crashDir) return;
    mkdirSync(options.crashDir, { recursive: true });
    const stem = join(options.crashDir, `${format}-${options.seed}-${i}`);
    writeFileSync(`${stem}.bin`, bytes);
    if (graph !== undefined) writeFileSync(`${stem}.graph.json`, graph instanceof Uint8Array ? graph : JSON.stringify(graph));
  };
  for (let i = 0; i < options.cases; i++) {
    const r = rng(options.seed * 1_000_003 + i);
    const seed = seeds[i % seeds.length]!;
    const { bytes, graph } = mutant(format, seed, r);
    const source = graph === undefined ? bytes : { weights: bytes, graph: graph as GraphManifest };
    const t0 = performance.now();
    let model: Model | null = null;
    let referenceMs: number | null = null;
    try {
      model = await loadModel(source, { backend: 'cpu' });
    } catch (e) {
      if (e instanceof ResgpuError) result.refused++;
      else crash(i, `untyped ${String(e)}`, bytes, graph);
    }
    if (model) {
      result.loaded++;
      try {
        const x = Float32Array.from({ length: 3 * model.inputSize }, (_, k) => ((k * 7919) % 13) / 6 - 1);
        const y = await model.run(x);
        if (y.length !== 3 * model.outputSize) crash(i, `run gave ${y.length} values for 3 × ${model.outputSize}`, bytes, graph);
        if (!y.every(Number.isFinite)) result.nonFiniteOutputs++;
        referenceMs = performance.now() - t0;
        if (options.device && options.gpuEvery && result.loaded % options.gpuEvery === 0) {
          const gpu = await loadModel(source, { device: options.device }).catch((e: unknown) => e);
          if (gpu instanceof ResgpuError) {
            // The GPU may refuse what fits the float64 reference (device limits, float32's range); anything else is a finding.
            if (gpu.code !== 'GPU_LIMIT' && !/float32's range/.test(gpu.message)) crash(i, `WebGPU refused what the reference loaded: ${gpu.message}`, bytes, graph);
          } else if (!(gpu as Model).run) crash(i, `WebGPU load: untyped ${String(gpu)}`, bytes, graph);
          else {
            const g = gpu as Model;
            const why = disagreement(await g.run(x), y);
            if (why) crash(i, `WebGPU disagrees with the reference: ${why}`, bytes, graph);
            result.gpuCompared++;
            await g.dispose();
          }
        }
      } catch (e) {
        crash(i, `run: ${e instanceof ResgpuError ? 'typed but unexpected' : 'untyped'} ${String(e)}`, bytes, graph);
      }
      await model.dispose();
    }
    // The reference's load and run; a WebGPU comparison adds pipeline compilation, which is not the parser's time.
    const ms = referenceMs ?? performance.now() - t0;
    result.slowestMs = Math.max(result.slowestMs, ms);
    if (ms > SLOW_MS) crash(i, `took ${Math.round(ms)} ms`, bytes, graph);
    result.cases++;
    if (i % 256 === 0) result.peakRssMiB = Math.max(result.peakRssMiB, process.memoryUsage().rss / 2 ** 20);
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}
