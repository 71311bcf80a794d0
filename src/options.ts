import { OptionError } from './errors.js';
import type { ProgressCallback } from './graph/stream.js';

/** The backends loadModel can put a model on. `'reference'` is another name for `'cpu'`. */
export const BACKENDS = ['webgpu', 'cpu', 'reference'] as const;
export type BackendOption = (typeof BACKENDS)[number];
/** Where a loaded model runs (`model.backend`). */
export type BackendName = 'webgpu' | 'cpu';

/** Every option of loadModel, documented here and only here (the README links to it). */
export interface LoadOptions {
  /**
   * 'webgpu' (default): hand-written WGSL kernels on the GPU.
   * 'cpu' (or 'reference'): the float64 CPU reference, plain and unfused: the tests' oracle.
   */
  backend?: BackendOption;
  /**
   * Cancels the load: the download stops (the response body is cancelled, the connection let
   * go), parsing stops, every GPU resource made so far is freed, and loadModel rejects with a
   * ResgpuError named 'AbortError' (code 'ABORTED'). Aborting after loadModel resolved does nothing.
   */
  signal?: AbortSignal;
  /** Called as loading moves through download, parse, fold, upload and compile. */
  onProgress?: ProgressCallback;
  /** WebGPU: a GPU object to use instead of navigator.gpu (in Node: create([]) from the 'webgpu' package). */
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
}

/** The backend an options object asks for, checked. */
export function chosenBackend(options: LoadOptions): BackendName {
  const backend = options.backend ?? 'webgpu';
  if (!(BACKENDS as readonly unknown[]).includes(backend)) {
    throw new OptionError(`Unknown backend ${JSON.stringify(backend)}: use ${BACKENDS.map((b) => `'${b}'`).join(', ')}.`);
  }
  return backend === 'reference' ? 'cpu' : (backend as BackendName);
}

/** Checks the options whose wrong values would otherwise be silently misread (maxCachedPlans: NaN kept every plan). */
export function checkOptions(options: LoadOptions): void {
  if (typeof options !== 'object' || options === null) throw new OptionError(`loadModel options must be an object, got ${String(options)}.`);
  const plans = options.maxCachedPlans;
  if (plans !== undefined && !(Number.isSafeInteger(plans) && plans >= 1)) {
    throw new OptionError(`maxCachedPlans must be a positive integer, got ${String(plans)}.`);
  }
  const signal = options.signal;
  if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof signal.aborted !== 'boolean')) {
    throw new OptionError('signal must be an AbortSignal (new AbortController().signal).');
  }
}
