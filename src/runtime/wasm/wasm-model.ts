import { DisposedError, WasmUnavailableError } from '../../errors.js';
import { forEachStepAsNodesArrive } from '../../graph/arrival.js';
import { foldStep } from '../../graph/fold.js';
import { fuseAnyGraph } from '../../graph/fuse.js';
import { rowSize, type OpGraph } from '../../graph/op-graph.js';
import type { AnyStep } from '../../graph/steps.js';
import type { StreamedModel } from '../../graph/stream.js';
import type { LoadOptions } from '../../options.js';
import type { DescribeOptions, Model, ModelDescription, RunOptions } from '../../model.js';
import { detectSimd } from './simd.js';
import { ModelBase, type InputPolicy } from '../model-base.js';
import { CONV_BLOCK_PIXELS, convSegments, pixelFloats } from './geometry.js';
import { activationBytes, firstPanelOnly, isImage, layoutModel, valueOffset, writePlan, type WasmLayout } from './layout.js';
import { gemmModuleBytes, MAX_PAGES, WASM_PAGE_BYTES, type GemmExports, type SimdLevel } from './module.js';
import { packStep } from './pack.js';
import { canShareMemory, coreCount, isNode, WorkerPool } from './threads.js';

/** The load options this backend reads (documented in src/options.ts). */
export type WasmModelOptions = InputPolicy & Pick<LoadOptions, 'onProgress' | 'threads' | 'deterministic'>;

/**
 * Knobs, mutable so that tests can force the threaded and chunked paths on small models.
 * minFlopsForThreads (measured with bench/wasm-node.mjs on the 2-core development machine): runs
 * smaller than this stay on one thread, because waking workers and meeting at a barrier after
 * every step costs more than it saves.
 */
export const wasmTuning = {
  minFlopsForThreads: 4e6,
  /** Activation memory per chunk: larger batches run in chunks of rows, so memory stays bounded. */
  chunkBytes: 64 << 20,
  /**
   * The same for a model with image steps, whose every step streams the chunk's whole images:
   * smaller chunks stay in the last-level cache (ResNet-50 at batch 8, one thread: 1.9 s median
   * at 32 MiB, 2 rows a chunk, against 3.7 s at 64 MiB, 5 rows; ResNet-18 alike at both).
   */
  imageChunkBytes: 32 << 20,
  /** The build to run instead of the best the engine validates (tests run 'plain' on engines with relaxed SIMD). */
  simd: null as SimdLevel | null,
  /** Output pixels per cache block of a conv (geometry.ts), for benchmarks to tune. */
  convBlockPixels: CONV_BLOCK_PIXELS,
  /**
   * 3×3 stride-1 convs as Winograd F(2×2, 3×3) (winograd.wat's $wino_rows; geometry.ts says which
   * fit), read at load: false runs every conv as the direct implicit GEMM (tests of that kernel,
   * benchmarks).
   */
  winograd: true,
};
/** The load's JIT warm-up (warmUp): calls per row count, and a time cap per row count. */
const WARM_UP_CALLS = 300;
const WARM_UP_MS = 15;
/**
 * What a layernorm or elementwise step costs per output column, counted as flops for the
 * threading threshold: a few operations for the epilogue, more for an exp or erf (a rough mean).
 */
const ELEMENTWISE_FLOPS = 20;
/** How long a worker polls for the next run before sleeping (loop iterations, ~0.1 ms). */
const WORKER_SPINS = 100_000;

/**
 * backend: 'wasm': the model on the CPU in WebAssembly SIMD. Weights are folded and packed into
 * the module's memory once, while the file streams in; a run copies the input in, runs every
 * step inside one call of the module (on every thread at once, with a barrier between steps)
 * and copies the output out. Runs are serialized, so overlapping run() calls each get their
 * own result.
 */
export class WasmModel extends ModelBase implements Model {
  readonly backend = 'wasm';
  private readonly flopsPerRow: number;
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;
  private planned: { rows: number; threads: number; layout: WasmLayout | null } = { rows: 0, threads: 0, layout: null };

  private constructor(
    graph: OpGraph,
    private readonly layout: WasmLayout,
    private memory: WebAssembly.Memory | null,
    private kernels: GemmExports | null,
    private readonly pool: WorkerPool | null,
    /** Threads a large run uses, the calling one included. */
    readonly threads: number,
    /** The SIMD flavour the engine runs: 'relaxed' (fused multiply-add) or 'plain'. */
    readonly simd: SimdLevel,
    policy: InputPolicy,
  ) {
    super(graph, policy);
    this.flopsPerRow = layout.steps.reduce((n, { step }) => n + stepFlops(layout, step), 0);
  }

  /**
   * Builds the model while its file arrives: the module compiles from the start; once the
   * header is in, the memory is made from the shapes; each layer is folded and packed as soon
   * as its tensors are complete.
   */
  static async create(model: StreamedModel, options: WasmModelOptions = {}): Promise<WasmModel> {
    const simd = wasmTuning.simd ?? detectSimd();
    try {
      if (!simd) throw new WasmUnavailableError("this JavaScript engine has no WebAssembly SIMD; use backend: 'webgpu' or 'cpu'");
      const threads = await threadCount(options.threads);
      const shared = threads > 1;
      const compiled = WebAssembly.compile(gemmModuleBytes(simd, shared));
      compiled.catch(() => undefined); // awaited below, after the weights
      const graph = await model.shapes;
      const lowered = fuseAnyGraph(graph);
      const layout = layoutModel(lowered, threads, wasmTuning.winograd);
      const memory = new WebAssembly.Memory({ initial: pagesFor(layout.weightsEnd), maximum: MAX_PAGES, shared });
      const floats = new Float32Array(memory.buffer);
      const start = layout.weightsEnd - layout.weightBytes;
      await forEachStepAsNodesArrive(model, lowered, (step, nodes) => {
        // Progress in bytes of packed weights: from this step's start to the next one's.
        const packed = layout.steps[step.index]!;
        const end = (layout.steps[step.index + 1]?.weights ?? layout.weightsEnd) - start;
        options.onProgress?.({ stage: 'fold', loadedBytes: packed.weights - start, totalBytes: layout.weightBytes });
        packStep(floats, lowered, step, foldStep(step, nodes), packed);
        options.onProgress?.({ stage: 'upload', loadedBytes: end, totalBytes: layout.weightBytes });
      });
      await model.finished;
      options.onProgress?.({ stage: 'compile', loadedBytes: 0, totalBytes: null });
      const module = await compiled;
      const instance = await WebAssembly.instantiate(module, { env: { memory } });
      const pool = shared ? await WorkerPool.start(module, memory, threads, WORKER_SPINS) : null;
      const built = new WasmModel(graph, layout, memory, instance.exports as unknown as GemmExports, pool, threads, simd, options);
      built.warmUp();
      return built;
    } catch (e) {
      model.cancel();
      throw e;
    }
  }

  async run(x: Float32Array, options?: RunOptions): Promise<Float32Array> {
    if (this.disposed) throw new DisposedError();
    const { batch, shape, key } = this.inputOf(x, options);
    const sized = this.layoutAt(key, shape);
    // Copy now: the caller may reuse its array before this run's turn comes.
    const input = x.slice();
    const result = this.queue.then(() => this.forward(input, batch, sized.layout, sized.flopsPerRow));
    this.queue = result.catch(() => undefined);
    return result;
  }

  describe(options: DescribeOptions = {}): ModelDescription {
    if (this.disposed) throw new DisposedError();
    return this.describeOnCpu('wasm', options);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.queue; // runs already queued finish first
    await this.pool?.close();
    // WebAssembly memory cannot be freed explicitly: it goes with the last reference to it.
    this.memory = null;
    this.kernels = null;
  }

  /**
   * The layout at an input size: the loaded one, or the graph fused and laid out again at that
   * size. Weights, their offsets, the zero row and the scratch depend on channels only, never on
   * the image size, so the memory packed at load serves every size; only the activations and the
   * image steps' geometry (written with each plan) differ.
   */
  private layoutAt(key: string | null, shape: readonly number[]): { layout: WasmLayout; flopsPerRow: number } {
    if (key === null) return { layout: this.layout, flopsPerRow: this.flopsPerRow };
    return this.atSize(key, shape, (graph) => {
      const layout = layoutModel(fuseAnyGraph(graph), this.threads, this.layout.winograd);
      const loaded = this.layout;
      const same =
        layout.weightsEnd === loaded.weightsEnd &&
        layout.scratchStride === loaded.scratchStride &&
        layout.steps.length === loaded.steps.length &&
        layout.steps.every((s, i) => s.step.op === loaded.steps[i]!.step.op && s.weights === loaded.steps[i]!.weights && s.epilogue === loaded.steps[i]!.epilogue);
      if (!same) throw this.otherSteps(shape);
      return { layout, flopsPerRow: layout.steps.reduce((n, { step }) => n + stepFlops(layout, step), 0) };
    });
  }

  private async forward(input: Float32Array, batch: number, layout: WasmLayout, flopsPerRow: number): Promise<Float32Array> {
    const [inputSize, outputSize] = [rowSize(layout.model.values[0]!.shape), rowSize(layout.model.values[layout.model.output]!.shape)];
    // Rows of a chunk: whole 4-row tiles of a row model; an image model's rows are tiled by pixels, any count will do.
    const fit = Math.floor((layout.images ? wasmTuning.imageChunkBytes : wasmTuning.chunkBytes) / (layout.bufferCount * layout.bufferRowBytes));
    const chunk = Math.min(batch, layout.images ? Math.max(1, fit) : Math.max(4, Math.floor(fit / 4) * 4));
    const memory = this.memoryFor(layout, chunk);
    const output = new Float32Array(batch * outputSize);
    const last = layout.steps.length;
    for (let r0 = 0; r0 < batch; r0 += chunk) {
      const rows = Math.min(chunk, batch - r0);
      const threads = this.pool && flopsPerRow * rows >= wasmTuning.minFlopsForThreads ? this.threads : 1;
      if (this.planned.rows !== rows || this.planned.threads !== threads || this.planned.layout !== layout) {
        writePlan(layout, rows, threads, new Int32Array(memory.buffer), this.deterministic, wasmTuning.convBlockPixels);
        this.planned = { rows, threads, layout };
      }
      const floats = new Float32Array(memory.buffer);
      const [inAt, outAt] = [valueOffset(layout, rows, 0) / 4, valueOffset(layout, rows, last) / 4];
      const [inShape, outShape] = [layout.model.values[0]!.shape, layout.model.values[last]!.shape];
      if (isImage(inShape)) toChannelsLast(input, r0 * inputSize, inShape, floats, inAt, layout.strides[0]! / 4, rows);
      else copyRows(input, r0 * inputSize, inputSize, floats, inAt, layout.strides[0]! / 4, rows);
      // Thread 0's share, here; it may sleep at the barriers only where the thread may block (Node).
      const kernels = this.kernels!;
      const share = () => kernels.run(layout.plan, layout.descriptors, 0, threads, isNode() ? 1 : 0);
      if (threads > 1) await this.pool!.run(layout.plan, layout.descriptors, threads, share);
      else share();
      if (isImage(outShape)) fromChannelsLast(floats, outAt, layout.strides[last]! / 4, outShape, output, r0 * outputSize, rows);
      else copyRows(floats, outAt, layout.strides[last]! / 4, output, r0 * outputSize, outputSize, rows, outputSize);
    }
    return output;
  }

  /**
   * V8 first runs WebAssembly on its baseline compiler and swaps in optimized code for hot
   * functions in the background: on the medium preset at batch 1 the first ten runs took 1.9×
   * the steady time (354 µs, then 185 µs). So that an app's first inferences run optimized code,
   * the load runs every step cut to its first output panel, at 4 rows and at 1 row, until every
   * function and epilogue is hot: a few milliseconds, at most WARM_UP_MS per row count.
   */
  private warmUp(): void {
    const words = new Int32Array(this.memoryFor(this.layout, 4).buffer);
    for (const rows of [4, 1]) {
      writePlan(this.layout, rows, 1, words);
      firstPanelOnly(this.layout, words);
      const start = performance.now();
      for (let i = 0; i < WARM_UP_CALLS && performance.now() - start < WARM_UP_MS; i++) this.kernels!.run(this.layout.plan, this.layout.descriptors, 0, 1, 0);
    }
    this.planned = { rows: 0, threads: 0, layout: null }; // the first run writes its own plan
  }

  /** The memory, grown to hold the activations of a chunk of `rows` rows. */
  private memoryFor(layout: WasmLayout, rows: number): WebAssembly.Memory {
    const memory = this.memory!;
    const pages = pagesFor(layout.weightsEnd + activationBytes(layout, rows));
    const current = memory.buffer.byteLength / WASM_PAGE_BYTES;
    if (pages > current) memory.grow(pages - current);
    return memory;
  }
}

function pagesFor(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / WASM_PAGE_BYTES));
}

/** Flops of one row through a step, for the threading threshold (a conv: 2 per multiply-add of the direct sum, Winograd or not). */
function stepFlops(layout: WasmLayout, step: AnyStep): number {
  if (step.kind === 'gemm') {
    // A mean prologue first adds up every pixel of the image it reads.
    const pixels = step.prologue ? rowSize(layout.model.values[step.input]!.shape) : 0;
    return 2 * step.outFeatures * (step.inFeatures + step.shortcutFeatures) + pixels;
  }
  if (step.kind !== 'conv') return ELEMENTWISE_FLOPS * step.outFeatures;
  const { taps, k1, k2 } = convSegments(layout.model, step, false);
  return 2 * step.outFeatures * (taps * k1 + k2);
}

/** PyTorch's NCHW rows [C, H, W] → channels-last pixel rows of padded channels (the padding zero), `rows` rows. */
function toChannelsLast(src: Float32Array, srcAt: number, shape: readonly number[], dst: Float32Array, dstAt: number, dstStride: number, rows: number): void {
  const [c, h, w] = shape as [number, number, number];
  const [plane, pixel] = [h * w, pixelFloats(shape)];
  for (let r = 0; r < rows; r++) {
    const row = dst.subarray(dstAt + r * dstStride, dstAt + r * dstStride + plane * pixel).fill(0);
    for (let ch = 0; ch < c; ch++) {
      const from = srcAt + (r * c + ch) * plane;
      for (let p = 0, to = ch; p < plane; p++, to += pixel) row[to] = src[from + p]!;
    }
  }
}

/** The inverse of toChannelsLast: an image output back to PyTorch's NCHW rows. */
function fromChannelsLast(src: Float32Array, srcAt: number, srcStride: number, shape: readonly number[], dst: Float32Array, dstAt: number, rows: number): void {
  const [c, h, w] = shape as [number, number, number];
  const [plane, pixel] = [h * w, pixelFloats(shape)];
  for (let r = 0; r < rows; r++) {
    for (let ch = 0; ch < c; ch++) {
      const to = dstAt + (r * c + ch) * plane;
      for (let p = 0, from = srcAt + r * srcStride + ch; p < plane; p++, from += pixel) dst[to + p] = src[from]!;
    }
  }
}

/** Copies `rows` rows of `width` floats between row strides (in floats). */
function copyRows(src: Float32Array, srcAt: number, srcStride: number, dst: Float32Array, dstAt: number, dstStride: number, rows: number, width = Math.min(srcStride, dstStride)): void {
  if (srcStride === width && dstStride === width) {
    dst.set(src.subarray(srcAt, srcAt + rows * width), dstAt);
    return;
  }
  for (let r = 0; r < rows; r++) dst.set(src.subarray(srcAt + r * srcStride, srcAt + r * srcStride + width), dstAt + r * dstStride);
}

/** The threads a model computes on; `requested` was checked where options enter (options.ts). */
async function threadCount(requested: number | undefined): Promise<number> {
  if (!canShareMemory()) return 1;
  return requested ?? Math.min(await coreCount(), 4);
}
