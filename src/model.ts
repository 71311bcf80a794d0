import type { ImagePreprocess, LayerDescription } from './graph/op-graph.js';
import type { BackendName } from './options.js';

export type { ImagePreprocess, LayerDescription };

/** A loaded model, on either backend. The public contract: extend, never break. */
export interface Model {
  /** Where the model runs. */
  readonly backend: BackendName;
  /** Features per input row. */
  readonly inputSize: number;
  /** Features per output row. */
  readonly outputSize: number;
  /**
   * The shape of one input row, without the batch: `[features]`, or `[C, H, W]` for an image
   * model, whose rows are C·H·W floats in PyTorch's NCHW order (`inputSize` is their product).
   * Set on every backend's model.
   */
  readonly inputShape?: readonly number[];
  /**
   * WebGPU: the device the model runs on (read-only). After a device loss from which the
   * model recovered it is the new device. Absent on CPU backends.
   */
  readonly device?: GPUDevice;
  /** The model file's names for its input and output, where it has them (ONNX). */
  readonly inputNames?: readonly string[];
  /** See `inputNames`. */
  readonly outputNames?: readonly string[];
  /** One name per input feature, and one class label per output, where the manifest carries them. */
  readonly features?: readonly string[];
  /** See `features`. */
  readonly labels?: readonly string[];
  /**
   * An image model's preprocessing as its file records it (the manifest's `preprocess`, written
   * by the exporter's `--image-mean`/`--image-std`/`--imagenet`): per-channel `mean` and `std`
   * after scaling pixels to [0, 1], the resize target `size` ([H, W] of `inputShape`), `color`.
   * Absent when the file says nothing. run() takes rows; resgpu-serve applies this to images.
   */
  readonly preprocess?: ImagePreprocess;
  /**
   * Runs a batch: x holds batch × inputSize floats, row-major; the result holds
   * batch × outputSize. Calls may overlap; each resolves with its own result.
   * `options.inputShape` runs an image model at another size than the loaded one (x then holds
   * batch × C·H·W of that shape), with a plan of its own, as batch sizes have.
   */
  run(x: Float32Array, options?: RunOptions): Promise<Float32Array>;
  /**
   * With `profile: true` on an adapter offering 'timestamp-query': how long the GPU spent in
   * the last finished run's kernels, in milliseconds. Otherwise null.
   */
  readonly lastRunGpuMs?: number | null;
  /**
   * The self-test run at load on the model's golden vectors (LoadOptions.selfTest): rows, the
   * worst error against PyTorch, the tolerance, how long it took. null when none ran.
   */
  readonly selfTest?: SelfTestResult | null;
  /**
   * What exactly runs: `model`, SHA-256 over the fused steps and their folded weights as float32
   * (the same for the same model through .pt, safetensors or ONNX, in any key order; any changed
   * weight or structure differs), and `file`, SHA-256 of the file's bytes. null where the platform
   * has no WebCrypto (a page served over plain http); absent with `fingerprint: false`.
   */
  readonly fingerprint?: ModelFingerprint;
  /** What one inference does, for a given batch size (default 1). */
  describe(options?: DescribeOptions): ModelDescription;
  /**
   * Frees every GPU resource. Runs already started finish first; later calls reject with
   * DisposedError. The returned promise resolves once everything is released.
   */
  dispose(): Promise<void>;
}

/** Options of one run(). */
export interface RunOptions {
  /**
   * The row shape of this run's input, [C, H, W], when an image model runs at another size than
   * the one it was loaded with (model.inputShape). Its channels must be the model's; the network
   * must accept the size (convolutions and pools whose windows fit, a global pool before any
   * Linear), else run() rejects with an InputError naming the layer. Each size gets a plan of
   * its own, made on first use and cached, as batch sizes do.
   */
  inputShape?: readonly number[];
}

/** Options of describe(): the batch (default 1) and the input row shape (default model.inputShape). */
export interface DescribeOptions {
  batch?: number;
  inputShape?: readonly number[];
}

/**
 * The fused operation of a dispatch. The seed's residual MLP gives `linear` (y = x·W + b),
 * `linear_relu`, `residual_identity` (y = relu(h·W2 + b2 + x)) and `residual_projection`
 * (y = relu([h | x]·[W2 ; Ws] + b2 + bs)). Other fusions are named by their parts joined with
 * '+', in the order they apply: a base (`linear`, `layernorm`, or none for elementwise steps),
 * then `projection`, `add`, `scale_shift` (a BatchNorm after an add), and the activation, e.g.
 * `linear+add`, `linear+add+scale_shift+relu`, `linear+gelu`, `layernorm`, `scale_shift+relu`.
 */
export type KernelName = 'linear' | 'linear_relu' | 'residual_identity' | 'residual_projection' | (string & {});

/** model.fingerprint and describe().fingerprint: 'sha256:<hex>' strings. */
export interface ModelFingerprint {
  model: string | null;
  file: string | null;
}

/** What a passed self-test measured: model.selfTest. */
export interface SelfTestResult {
  rows: number;
  /** The largest error against PyTorch's float64 outputs, relative to max(1, |expected|). */
  worstError: number;
  tolerance: number;
  /** Wall time of the self-test run, ms. */
  ms: number;
  /** Where the vectors came from (the exporter and its PyTorch, or 'given'). */
  source: string;
}

/** One compute dispatch of an inference, with logical (unpadded) sizes. */
export interface DispatchDescription {
  /** The fused operation (see KernelName). */
  kernel: KernelName;
  /** The kernel implementation chosen for it on this device and batch (e.g. 'gemm'). */
  variant: string;
  /** The layer it computes, and the fused op nodes, e.g. "blocks.0.linear1 (linear + batchnorm + relu)". */
  layer: string;
  /** Names of the op nodes this dispatch computes, in graph order. */
  nodes: string[];
  /** Rows of the batch. */
  batch: number;
  /** Inner size of the main GEMM (features in). */
  inFeatures: number;
  /** Features out. */
  outFeatures: number;
  /** Inner size of the projection GEMM done in the same dispatch, 0 if none. */
  shortcutFeatures: number;
  /** Workgroups dispatched in x, y and z. */
  workgroups: [number, number, number];
}

/** What one inference does at a batch size: model.describe({ batch }). */
export interface ModelDescription {
  /** Where the model runs. */
  backend: BackendName;
  /** Features per input row. */
  inputSize: number;
  /** Features per output row. */
  outputSize: number;
  /** The batch size described. */
  batch: number;
  /** The layers, in order, with the BatchNorms folded into each. */
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
  /** model.fingerprint (loadModel sets both). */
  fingerprint?: ModelFingerprint;
  /** Whether a row's outputs are bitwise independent of the batch around it (LoadOptions.deterministic). */
  deterministic?: boolean;
}
