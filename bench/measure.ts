import { loadModel } from '../src/index.js';
import type { Contender, ModelFiles } from './contenders.js';

/** One contender at one batch size on one model: what the table and the charts show. */
export interface Result {
  model: string;
  contender: string;
  batch: number;
  medianMs: number;
  p90Ms: number;
  minMs: number;
  maxMs: number;
  samplesPerSecond: number;
  gflops: number;
  /** Load + compile + first run, at the first batch size measured. */
  firstResultMs: number;
  /** Median GPU time of the kernels alone (timestamp-query), where the adapter and the contender offer it. */
  gpuMedianMs: number;
  /** Largest |y − reference| / max(1, |reference|) over the rows checked against the CPU reference. */
  maxError: number;
  skipped?: string;
}

export interface BenchOptions {
  models: ModelFiles[];
  batches: number[];
  iterations: number;
  warmup: number;
  contenders: Contender[];
  /** Skip the CPU reference past this many floating-point operations per run (it is slow on purpose). */
  cpuFlopLimit: number;
  onResult?(r: Result): void;
}

/** Rows of each output compared with the CPU reference (all of them for small batches). */
const CHECKED_ROWS = 8;

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

function input(rows: number, width: number): Float32Array {
  let s = 12345;
  return Float32Array.from({ length: rows * width }, () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 4 - 2);
}

function maxError(y: Float32Array, reference: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < reference.length; i++) worst = Math.max(worst, Math.abs(y[i]! - reference[i]!) / Math.max(1, Math.abs(reference[i]!)));
  return Number.isNaN(worst) ? Infinity : worst;
}

/**
 * Method: per model, every contender loads once (timed with its first run); per batch size,
 * `warmup` untimed runs, then `iterations` timed runs of the full path (input upload to output
 * read back), reported as median, p90, min and max. All contenders run in this one page.
 */
export async function runBenchmark(o: BenchOptions): Promise<Result[]> {
  const results: Result[] = [];
  for (const files of o.models) {
    const model = files.name;
    const reference = await loadModel(files.resgpu, { backend: 'cpu' });
    const flopsPerRow = files.flopsPerRow ?? (await flopsOf(files.resgpu));
    const refs = new Map<number, Float32Array>();
    for (const batch of o.batches) {
      const rows = Math.min(batch, CHECKED_ROWS);
      refs.set(batch, await reference.run(input(batch, reference.inputSize).subarray(0, rows * reference.inputSize)));
    }
    for (const contender of o.contenders) {
      const t0 = performance.now();
      let runner;
      try {
        runner = await contender.load(files);
      } catch (e) {
        for (const batch of o.batches) push(o, results, skippedResult(model, contender.name, batch, `load failed: ${(e as Error).message}`));
        continue;
      }
      let firstResultMs = NaN;
      for (const batch of o.batches) {
        const x = input(batch, reference.inputSize);
        if (contender.name === 'CPU reference' && flopsPerRow * batch > o.cpuFlopLimit) {
          push(o, results, skippedResult(model, contender.name, batch, `over ${o.cpuFlopLimit / 1e9} GFLOP per run`));
          continue;
        }
        try {
          const y = await runner.run(x, batch);
          if (Number.isNaN(firstResultMs)) firstResultMs = performance.now() - t0;
          const ref = refs.get(batch)!;
          const error = maxError(y.subarray(0, ref.length), ref);
          for (let i = 1; i < o.warmup; i++) await runner.run(x, batch);
          const times: number[] = [];
          const gpuTimes: number[] = [];
          for (let i = 0; i < o.iterations; i++) {
            const t = performance.now();
            await runner.run(x, batch);
            times.push(performance.now() - t);
            const g = runner.gpuMs?.();
            if (g !== null && g !== undefined) gpuTimes.push(g);
          }
          times.sort((a, b) => a - b);
          gpuTimes.sort((a, b) => a - b);
          const medianMs = percentile(times, 0.5);
          push(o, results, {
            model, contender: runner.backend && contender.name === 'resgpu-auto' ? `resgpu-auto (${runner.backend})` : contender.name, batch, medianMs,
            p90Ms: percentile(times, 0.9), minMs: times[0]!, maxMs: times.at(-1)!,
            samplesPerSecond: batch / (medianMs / 1000), gflops: (flopsPerRow * batch) / (medianMs * 1e6),
            firstResultMs, maxError: error, gpuMedianMs: gpuTimes.length ? percentile(gpuTimes, 0.5) : NaN,
          });
        } catch (e) {
          push(o, results, skippedResult(model, contender.name, batch, `run failed: ${(e as Error).message}`));
        }
      }
      await runner.dispose();
    }
    await reference.dispose();
  }
  return results;
}

function push(o: BenchOptions, results: Result[], r: Result) {
  results.push(r);
  o.onResult?.(r);
}

function skippedResult(model: string, contender: string, batch: number, why: string): Result {
  return { model, contender, batch, medianMs: NaN, p90Ms: NaN, minMs: NaN, maxMs: NaN, samplesPerSecond: NaN, gflops: NaN, firstResultMs: NaN, gpuMedianMs: NaN, maxError: NaN, skipped: why };
}

/**
 * Multiply-adds × 2 per input row, from the dispatches resgpu plans on WebGPU (for a dropped file;
 * presets carry the figure in their meta.json). Only GEMM dispatches count: a LayerNorm or an
 * elementwise step is a dispatch too, with in = out features, but no matrix product.
 */
async function flopsOf(url: string): Promise<number> {
  const m = await loadModel(url, { backend: 'webgpu' });
  const gemm = (kernel: string) => kernel.startsWith('linear') || kernel.startsWith('residual');
  const flops = m.describe().dispatches.reduce((n, d) => (gemm(d.kernel) ? n + 2 * d.outFeatures * (d.inFeatures + d.shortcutFeatures) : n), 0);
  await m.dispose();
  return flops;
}
