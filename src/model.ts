import type { StepOp } from './graph/lower.js';
import type { BackendName } from './options.js';

/** A loaded model, on either backend. The public contract: extend, never break. */
export interface Model {
  /** Where the model runs. */
  readonly backend: BackendName;
  /** Features per input row. */
  readonly inputSize: number;
  /** Features per output row. */
  readonly outputSize: number;
  /**
   * WebGPU: the device the model runs on (read-only). After a device loss from which the
   * model recovered it is the new device. Absent on CPU backends.
   */
  readonly device?: GPUDevice;
  /** The model file's names for its input and output, where it has them (ONNX). */
  readonly inputNames?: readonly string[];
  readonly outputNames?: readonly string[];
  /** One name per input feature, and one class label per output, where the manifest carries them. */
  readonly features?: readonly string[];
  readonly labels?: readonly string[];
  /**
   * Runs a batch: x holds batch × inputSize floats, row-major; the result holds
   * batch × outputSize. Calls may overlap; each resolves with its own result.
   */
  run(x: Float32Array): Promise<Float32Array>;
  /**
   * With `profile: true` on an adapter offering 'timestamp-query': how long the GPU spent in
   * the last finished run's kernels, in milliseconds. Otherwise null.
   */
  readonly lastRunGpuMs?: number | null;
  /** What one inference does, for a given batch size (default 1). */
  describe(options?: { batch?: number }): ModelDescription;
  /**
   * Frees every GPU resource. Runs already started finish first; later calls reject with
   * DisposedError. The returned promise resolves once everything is released.
   */
  dispose(): Promise<void>;
}

export interface LayerDescription {
  name: string;
  type: 'linear' | 'residual_block';
  inFeatures: number;
  outFeatures: number;
  /** For residual blocks. */
  shortcut?: 'identity' | 'projection';
  /** Names of the BatchNorms folded into this layer's linears. */
  foldedBatchNorms: string[];
}

/**
 * The fused operation of a dispatch: `linear` (y = x·W + b), `linear_relu`, `residual_identity`
 * (y = relu(h·W2 + b2 + x)) or `residual_projection` (y = relu([h | x]·[W2 ; Ws] + b2 + bs)).
 */
export type KernelName = StepOp;

/** One compute dispatch of an inference, with logical (unpadded) sizes. */
export interface DispatchDescription {
  /** The fused operation (see KernelName). */
  kernel: KernelName;
  /** The kernel implementation chosen for it on this device and batch (e.g. 'gemm'). */
  variant: string;
  layer: string;
  /** Rows of the batch. */
  batch: number;
  inFeatures: number;
  outFeatures: number;
  /** Inner size of the projection GEMM done in the same dispatch, 0 if none. */
  shortcutFeatures: number;
  workgroups: [number, number, number];
}

export interface ModelDescription {
  backend: BackendName;
  inputSize: number;
  outputSize: number;
  batch: number;
  layers: LayerDescription[];
  /** Empty on the CPU backends (wasm, cpu). */
  dispatches: DispatchDescription[];
  /** Queue submits per run(): 1 on WebGPU, 0 on the CPU backends. */
  submitsPerRun: number;
  /** GPU memory held by weights and by this batch size's activation buffers, in bytes. */
  gpuBytes: { weights: number; activations: number };
  /** The adapter; `software` when it is a CPU pretending to be a GPU (speed there is CPU speed). */
  adapter: { vendor: string; architecture: string; description: string; software: boolean } | null;
  /** How the weights are stored on the device ('f32' on CPU backends). */
  precision: 'f32' | 'f16';
}
