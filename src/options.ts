import './webgpu-globals.js';
import { OptionError } from './errors.js';
import type { ProgressCallback } from './graph/stream.js';
import { KERNEL_FAMILIES } from './kernels/registry.js';
import type { KernelVariant } from './kernels/variant.js';
import type { TuningCache } from './runtime/webgpu/tuning-cache.js';

/** The backends loadModel can put a model on. `'reference'` is another name for `'cpu'`. */
export const BACKENDS = ['webgpu', 'cpu', 'reference'] as const;
/** The `backend` option's values. */
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
  /** Called as loading moves through download, parse, fold, upload and compile. */
  onProgress?: ProgressCallback;
  /** WebGPU: a GPU object to use instead of navigator.gpu (in Node: `await nodeGpu()` from resgpu/node, or create([]) from the 'webgpu' package). */
  gpu?: GPU;
  /** WebGPU: an existing device to share; dispose() then leaves it alive. */
  device?: GPUDevice;
  /** WebGPU: plans for distinct batch sizes kept at once (default 4); older ones are freed. */
  maxCachedPlans?: number;
  /** WebGPU: print every shader and pipeline as it is compiled. */
  debug?: boolean;
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
}

const PRECISIONS = ['f32', 'f16'] as const;

/** The precision and kernel options, checked. */
export function kernelOptions(options: LoadOptions): { precision: 'f32' | 'f16'; kernel: KernelVariant | null } {
  const precision = options.precision ?? 'f32';
  if (!(PRECISIONS as readonly unknown[]).includes(precision)) {
    throw new OptionError(`Unknown precision ${JSON.stringify(precision)}: use 'f32' or 'f16'.`);
  }
  const kernel = options.kernel ?? null;
  if (kernel !== null && !(kernel in KERNEL_FAMILIES)) {
    throw new OptionError(`Unknown kernel ${JSON.stringify(kernel)}: use ${Object.keys(KERNEL_FAMILIES).map((k) => `'${k}'`).join(', ')}.`);
  }
  return { precision, kernel };
}

/** The backend an options object asks for, checked. */
export function chosenBackend(options: LoadOptions): BackendName {
  const backend = options.backend ?? 'webgpu';
  if (!(BACKENDS as readonly unknown[]).includes(backend)) {
    throw new OptionError(`Unknown backend ${JSON.stringify(backend)}: use ${BACKENDS.map((b) => `'${b}'`).join(', ')}.`);
  }
  return backend === 'reference' ? 'cpu' : (backend as BackendName);
}
