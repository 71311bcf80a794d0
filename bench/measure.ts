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
  /** Largest |y − reference| / max(1, |reference|) over the rows checked (see `checkedAgainst`). */
  maxError: number;
  /** What the first rows were compared with: the float64 CPU reference, or where that would pass the CPU reference's FLOP limit, the element-wise median of every contender's output. */
  checkedAgainst?: 'CPU reference' | 'median of contenders' | 'nothing (one contender)';
  /** The output disagrees with the reference past WRONG_ERROR: the timing is of a wrong answer. */
  wrong?: boolean;
  /** Timed runs made (fewer than asked where the time budget ran out; at least one). */
  iterations?: number;
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
  /** Per contender and batch size: no timed run starts after this many ms of them (SwiftShader runs a ResNet for seconds). */
  budgetMs?: number;
  onResult?(r: Result): void;
}

/** Rows of each output compared with the reference (all of them for small batches). */
const CHECKED_ROWS = 8;
/**
 * Past this error a contender's output is flagged wrong. The engines differ by their f32
 * summation orders and fusions: the MLP presets agree to about 1e-5 and ResNets, 20 to 50 layers
 * deep, to about 1e-4 (measured); a wrong kernel or a wrong layout is off by order 1.
 */
export const WRONG_ERROR = 1e-2;

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
 * `warmup` untimed runs (the first one's output is checked), then `iterations` timed runs of the
 * full path (input upload to output read back), reported as median, p90, min and max, fewer
 * where `budgetMs` runs out. All contenders run in this one page. A contender whose output
 * disagrees with the reference is timed, and flagged `wrong`.
 */
export async function runBenchmark(o: BenchOptions): Promise<Result[]> {
  const results: Result[] = [];
  for (const files of o.models) {
    const model = files.name;
    const flopsPerRow = files.flopsPerRow ?? (await flopsOf(files.resgpu, files.inputShape));
    const inputSize = files.inputShape ? files.inputShape.reduce((a, d) => a * d, 1) : await inputSizeOf(files.resgpu);
    const checked = (batch: number) => Math.min(batch, CHECKED_ROWS);
    // The float64 reference checks as many rows as its FLOP limit allows (at least one row, else none).
    const referenceRows = Math.min(CHECKED_ROWS, Math.max(...o.batches), Math.floor(o.cpuFlopLimit / flopsPerRow));
    const reference = referenceRows > 0 ? await referenceOutputs(files, input(referenceRows, inputSize)) : null;
    const outputSize = reference ? reference.length / referenceRows : 0;
    // Without it, every contender's checked rows are kept, and compared at the model's end with their median.
    const outputs = new Map<Result, Float32Array>();
    const modelResults: Result[] = [];
    const emit = (r: Result) => (reference || r.skipped ? push(o, results, r) : modelResults.push(r));
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
        const x = input(batch, inputSize);
        if (contender.name === 'CPU reference' && flopsPerRow * batch > o.cpuFlopLimit) {
          push(o, results, skippedResult(model, contender.name, batch, `over ${o.cpuFlopLimit / 1e9} GFLOP per run`));
          continue;
        }
        try {
          const y = await runner.run(x, batch);
          if (Number.isNaN(firstResultMs)) firstResultMs = performance.now() - t0;
          const rows = reference ? Math.min(checked(batch), referenceRows) : checked(batch);
          const error = reference ? maxError(y.subarray(0, rows * outputSize), reference.subarray(0, rows * outputSize)) : NaN;
          for (let i = 1; i < o.warmup; i++) await runner.run(x, batch);
          const times: number[] = [];
          const gpuTimes: number[] = [];
          const started = performance.now();
          for (let i = 0; i < o.iterations && (i === 0 || performance.now() - started < (o.budgetMs ?? Infinity)); i++) {
            const t = performance.now();
            await runner.run(x, batch);
            times.push(performance.now() - t);
            const g = runner.gpuMs?.();
            if (g !== null && g !== undefined) gpuTimes.push(g);
          }
          times.sort((a, b) => a - b);
          gpuTimes.sort((a, b) => a - b);
          const medianMs = percentile(times, 0.5);
          const r: Result = {
            model, contender: runner.backend && contender.name === 'resgpu-auto' ? `resgpu-auto (${runner.backend})` : contender.name, batch, medianMs,
            p90Ms: percentile(times, 0.9), minMs: times[0]!, maxMs: times.at(-1)!,
            samplesPerSecond: batch / (medianMs / 1000), gflops: (flopsPerRow * batch) / (medianMs * 1e6),
            firstResultMs, maxError: error, gpuMedianMs: gpuTimes.length ? percentile(gpuTimes, 0.5) : NaN, iterations: times.length,
            ...(reference ? { checkedAgainst: 'CPU reference' as const, wrong: !(error <= WRONG_ERROR) } : {}),
          };
          outputs.set(r, y.slice(0, (y.length / batch) * checked(batch)));
          emit(r);
        } catch (e) {
          push(o, results, skippedResult(model, contender.name, batch, `run failed: ${(e as Error).message}`));
        }
      }
      await runner.dispose();
    }
    checkByMedian(modelResults, outputs);
    for (const r of modelResults) push(o, results, r);
  }
  return results;
}

/** The float64 CPU reference's output for these rows (loaded only for this, then let go). */
async function referenceOutputs(files: ModelFiles, x: Float32Array): Promise<Float32Array> {
  const m = await loadModel(files.resgpu, { backend: 'cpu', inputShape: files.inputShape });
  const y = await m.run(x);
  await m.dispose();
  return y;
}

async function inputSizeOf(url: string): Promise<number> {
  const m = await loadModel(url, { backend: 'cpu' });
  const size = m.inputSize;
  await m.dispose();
  return size;
}

/**
 * Where the CPU reference is too slow, contenders check each other: per batch size, the
 * element-wise median of their outputs is the reference (one wrong contender among three or
 * more cannot move it far), and each is flagged against it.
 */
function checkByMedian(results: Result[], outputs: Map<Result, Float32Array>) {
  for (const batch of new Set(results.map((r) => r.batch))) {
    const ran = results.filter((r) => r.batch === batch);
    const ys = ran.map((r) => outputs.get(r)!);
    const median = Float32Array.from(ys[0]!, (_, i) => {
      const v = ys.map((y) => y[i]!).sort((a, b) => a - b);
      return v.length % 2 ? v[v.length >> 1]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
    });
    for (const [i, r] of ran.entries()) {
      r.checkedAgainst = ran.length > 1 ? 'median of contenders' : 'nothing (one contender)';
      r.maxError = ran.length > 1 ? maxError(ys[i]!, median) : NaN;
      r.wrong = ran.length > 1 && !(r.maxError <= WRONG_ERROR);
    }
  }
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
async function flopsOf(url: string, inputShape?: number[]): Promise<number> {
  const m = await loadModel(url, { backend: 'webgpu', inputShape });
  // A Linear with a global pooling prologue ('global_avgpool+linear') counts its GEMM alone.
  const gemm = (kernel: string) => /^(global_avgpool\+)?linear|^residual/.test(kernel);
  const flops = m.describe().dispatches.reduce((n, d) => (gemm(d.kernel) ? n + 2 * d.outFeatures * (d.inFeatures + d.shortcutFeatures) : n), 0);
  await m.dispose();
  return flops;
}
