import './webgpu-globals.js';
import { OptionError } from './errors.js';
import type { ProgressCallback } from './graph/stream.js';

/**
 * The WebGPU GEMM kernels the `kernel` option can force (kernels/registry.ts defines one family
 * per name and checks that this list names them all).
 */
export const KERNEL_VARIANTS = ['gemm', 'gemv', 'gemm_tiled'] as const;
/** A kernel's name, as describe() reports it and as the `kernel` option forces it. */
export type KernelVariant = (typeof KERNEL_VARIANTS)[number];

/**
 * Where kernel measurements are remembered, per adapter and shape: keys are
 * `<adapter>|<tuningKey>`, values the winning kernel. Every cache also keeps what it saw in
 * memory for the life of the page or process.
 */
export interface TuningCache {
  /** The kernel measured fastest for this key, if it was measured. */
  get(key: string): KernelVariant | undefined;
  /** Remembers the fastest kernel for this key. */
  set(key: string, kernel: KernelVariant): void;
}

/** The backends loadModel can put a model on. `'reference'` is another name for `'cpu'`. */
export const BACKENDS = ['auto', 'webgpu', 'wasm', 'cpu', 'reference'] as const;
/** The `backend` option's values. */
export type BackendOption = (typeof BACKENDS)[number];
/** Where a loaded model runs (`model.backend`): WebGPU, WebAssembly SIMD on the CPU, or the float64 reference. */
export type BackendName = 'webgpu' | 'wasm' | 'cpu';

/** Every option of loadModel, documented here and only here (the README links to it). */
export interface LoadOptions {
  /**
   * 'auto' (default): WebGPU on a hardware adapter, or when `gpu` or `device` is given; else
   * 'wasm' (a software adapter such as SwiftShader is a CPU, where WebAssembly is faster).
   * 'webgpu': hand-written WGSL kernels on the GPU.
   * 'wasm': hand-written WebAssembly SIMD kernels on the CPU, on `threads` threads.
   * 'cpu' (or 'reference'): the float64 CPU reference, plain and unfused: the tests' oracle.
   */
  backend?: BackendOption;
  /**
   * wasm: threads to compute on, the calling one included. Default: the cores, at most 4, where
   * memory can be shared (Node; a browser page that is cross-origin isolated: served with
   * `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`); else 1.
   */
  threads?: number;
  /**
   * Cancels the load: the download stops (the response body is cancelled, the connection let
   * go), parsing stops, every GPU resource made so far is freed, and loadModel rejects with a
   * ResgpuError named 'AbortError' (code 'ABORTED'). Aborting after loadModel resolved does nothing.
   */
  signal?: AbortSignal;
  /** Called as loading moves through download, parse, fold, upload and compile. */
  onProgress?: ProgressCallback;
  /**
   * The input's row shape, without the batch: `[C, H, W]` for an image model, `[features]`
   * otherwise. A `.pt` state_dict of an image model (a torchvision ResNet) records the channels
   * but not the image size, so it needs this option (else loading fails with a GraphError saying
   * so); an ONNX file whose input has a dynamic C, H or W takes those sizes from it. Where the
   * file records the shape (a graph manifest, an ONNX file's fixed sizes, a state_dict's
   * channels), the two must agree, else loading fails with an OptionError. The model then takes
   * rows of C·H·W floats in PyTorch's NCHW order (`model.inputShape`, `model.inputSize`).
   */
  inputShape?: readonly number[];
  /** WebGPU: a GPU object to use instead of navigator.gpu (in Node: `await nodeGpu()` from resgpu/node, or create([]) from the 'webgpu' package). */
  gpu?: GPU;
  /** WebGPU: an existing device to share; dispose() then leaves it alive. */
  device?: GPUDevice;
  /**
   * WebGPU: keep a host copy of the model's weights (about the file's size in memory), so that
   * after a device loss the next run() can rebuild the model on a new device even when the
   * source cannot be read again (an ArrayBuffer, a typed array, a Response). Sources given as a
   * URL or a Blob are read again instead and need no copy. Default false.
   */
  keepWeightsOnHost?: boolean;
  /**
   * WebGPU: called when the model's device is lost (driver reset or update, GPU removed, tab
   * backgrounded too long). Runs in flight then reject with DeviceLostError; unless the device
   * was passed in as `device`, the next run() rebuilds the model on a new device by itself
   * (`willRecover`); a device passed in is never replaced: load again with a new one.
   */
  onDeviceLost?: (info: { reason: string; message: string; willRecover: boolean }) => void;
  /** WebGPU: plans for distinct batch sizes kept at once (default 4); older ones are freed. */
  maxCachedPlans?: number;
  /** WebGPU: print every shader and pipeline as it is compiled. */
  debug?: boolean;
  /**
   * Refuse inputs holding NaN or ±Infinity: run() rejects with an InputError naming the first
   * such value's row and column. Default false: non-finite values propagate as in PyTorch
   * (a row with a NaN gives NaN outputs, on every backend), never as a confident number.
   */
  rejectNonFinite?: boolean;
  /** WebGPU: time each run's kernels with timestamp queries, where the adapter offers them (model.lastRunGpuMs). */
  profile?: boolean;
  /**
   * WebGPU: how the folded weights are stored on the GPU. 'f32' (default), or 'f16': half the
   * memory and bandwidth, stored as f16 pairs packed in u32 (no 'shader-f16' feature needed);
   * activations and accumulation stay f32. Outputs then differ from PyTorch's by the weights'
   * rounding: a relative error of at most 2⁻¹¹ per weight (see README, "Precision").
   */
  precision?: 'f32' | 'f16';
  /**
   * WebGPU: run every step with this kernel instead of choosing: 'gemm' (register tiles, best on
   * software adapters), 'gemv' (split-K, small batches on GPUs), 'gemm_tiled' (workgroup tiles,
   * large batches on GPUs). For tests and benchmarks; the default chooses per step and batch.
   * It applies to the GEMM steps that read rows of features: convolution and pooling steps, and
   * global pooling + the Linear after it (`gemm_mean`), have one kernel each
   * (`describe().dispatches[].variant` names what ran).
   */
  kernel?: KernelVariant;
  /**
   * WebGPU: measure the candidate kernels on the real shapes when a batch size is first planned,
   * and keep the fastest (remembered per adapter and shape: in memory, in localStorage in a
   * browser, in `tuningCache`). Default: true on hardware adapters, false on software ones (a
   * CPU, where the fixed rule of runtime/webgpu/select.ts is known best); false always uses the rule.
   */
  autotune?: boolean;
  /** WebGPU: where measurements are remembered (default: localStorage in a browser, memory elsewhere; in Node, fileTuningCache() from 'resgpu/node'). */
  tuningCache?: TuningCache;
  /**
   * Run the model's golden vectors (input rows and PyTorch's outputs, which the exporter records
   * in the file, or `goldenVectors`) once at load, and refuse the model with a SelfTestError
   * when they do not come out within the stated tolerance (1e-4 relative; f16 weights 4e-3).
   * Default: true when vectors exist. The result is `model.selfTest`.
   */
  selfTest?: boolean;
  /**
   * Batch invariance: a row's outputs are bitwise identical whatever the batch size, the batch's
   * other rows and the run, on one backend and adapter. Each GEMM step then runs one kernel at
   * every batch size, chosen by rule and never re-measured (WebGPU: 'gemm' on software adapters,
   * 'gemm_tiled' on GPUs, or the `kernel` forced: both sum every output's inner dimension in the
   * same sequential order; 'gemv', a split-K tree, is refused), and the WebAssembly backend sums
   * single rows in the same order as 4-row tiles. Costs speed where
   * the free choice would pick a faster kernel for the batch (docs/VALIDATION.md). Default false
   * (resgpu-serve: true).
   */
  deterministic?: boolean;
  /**
   * Compute model.fingerprint at load: SHA-256 over the fused steps and their folded weights, and
   * of the file (measured: 0.5 s for a 64 MB model on a 2-core machine, most of it folding the
   * weights again in float64). Default true; false leaves model.fingerprint null.
   */
  fingerprint?: boolean;
  /**
   * Golden vectors for files that carry none (ONNX, `.pt`): `inputs` and PyTorch's float64
   * `outputs`, each as rows (arrays of numbers) or a flat Float32Array / Float64Array. Given, they
   * replace the file's. At most 64 rows.
   */
  goldenVectors?: { inputs: ArrayLike<number> | number[][]; outputs: ArrayLike<number> | number[][]; source?: string };
}

const PRECISIONS = ['f32', 'f16'] as const;
/** Each size of inputShape: a graph manifest's own cap on its input's dimensions. */
const MAX_INPUT_DIM = 1 << 24;

/** Options after checkOptions: the backend resolved ('reference' read as 'cpu'), the precision filled in. */
export type CheckedOptions = Omit<LoadOptions, 'backend' | 'precision'> & { backend: BackendName | 'auto'; precision: 'f32' | 'f16' };

/**
 * Checks every option whose wrong value would otherwise be silently misread (maxCachedPlans: NaN
 * kept every plan) or fail deep in a backend; the one place options are validated. Returns them
 * with defaults filled in.
 */
export function checkOptions(options: LoadOptions): CheckedOptions {
  if (typeof options !== 'object' || options === null) throw new OptionError(`loadModel options must be an object, got ${String(options)}.`);
  const backend = options.backend ?? 'auto';
  if (!(BACKENDS as readonly unknown[]).includes(backend)) {
    throw new OptionError(`Unknown backend ${JSON.stringify(backend)}: use ${BACKENDS.map((b) => `'${b}'`).join(', ')}.`);
  }
  const precision = options.precision ?? 'f32';
  if (!(PRECISIONS as readonly unknown[]).includes(precision)) {
    throw new OptionError(`Unknown precision ${JSON.stringify(precision)}: use 'f32' or 'f16'.`);
  }
  const kernel = options.kernel ?? null;
  if (kernel !== null && !(KERNEL_VARIANTS as readonly unknown[]).includes(kernel)) {
    throw new OptionError(`Unknown kernel ${JSON.stringify(kernel)}: use ${KERNEL_VARIANTS.map((k) => `'${k}'`).join(', ')}.`);
  }
  if (options.deterministic === true && kernel === 'gemv') {
    throw new OptionError("kernel 'gemv' splits each sum across a workgroup and adds the parts as a tree: it cannot run in deterministic mode, whose kernels ('gemm', 'gemm_tiled') sum every output in one order. Force one of those, or leave kernel unset.");
  }
  const plans = options.maxCachedPlans;
  if (plans !== undefined && !(Number.isSafeInteger(plans) && plans >= 1)) {
    throw new OptionError(`maxCachedPlans must be a positive integer, got ${String(plans)}.`);
  }
  const threads = options.threads;
  if (threads !== undefined && (!Number.isSafeInteger(threads) || threads < 1)) {
    throw new OptionError(`The threads option needs a positive integer, got ${String(threads)}.`);
  }
  const shape = options.inputShape;
  if (shape !== undefined && !(Array.isArray(shape) && shape.length >= 1 && shape.length <= 3 && shape.every((d) => Number.isSafeInteger(d) && d >= 1 && d <= MAX_INPUT_DIM))) {
    throw new OptionError(`inputShape must be the input's row shape without the batch: 1 to 3 positive integers up to ${MAX_INPUT_DIM}, e.g. [3, 224, 224], got ${JSON.stringify(shape)}.`);
  }
  for (const key of ['selfTest', 'fingerprint', 'deterministic'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') throw new OptionError(`${key} must be true or false, got ${String(options[key])}.`);
  }
  if (options.goldenVectors !== undefined && (typeof options.goldenVectors !== 'object' || options.goldenVectors === null)) {
    throw new OptionError('goldenVectors must be an object { inputs, outputs }.');
  }
  const signal = options.signal;
  if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof signal.aborted !== 'boolean')) {
    throw new OptionError('signal must be an AbortSignal (new AbortController().signal).');
  }
  return { ...options, backend: backend === 'reference' ? 'cpu' : backend, precision };
}
