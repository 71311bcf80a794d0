/**
 * What the fusion pass (fuse.ts) hands every backend: the op graph lowered, once per model and
 * from shapes alone, into steps. A step is one dispatch on WebGPU and one step of the
 * WebAssembly plan. Three kinds:
 *
 *   gemm         acc = [input | shortcut] · [W ; Ws]ᵀ   (Linear, with BatchNorms folded in);
 *                with prologue 'mean_pixels', `input` is an image [C, H, W] and the left operand
 *                its per-channel mean over the H·W pixels (global average pooling, then the Linear)
 *   layernorm    acc = (input − mean) / √(var + eps) · γ  (over the row's real features)
 *   elementwise  acc = input
 *
 *   conv         acc = implicit GEMM of the input image with the conv's weight (and, with a
 *                projection, of the shortcut image with the 1×1 downsample conv's, stacked
 *                along K): M = batch·OH·OW output pixels, N = out channels, K = kh·kw·C
 *   pool         acc = max or mean over each window (maxpool2d, avgpool2d, global_avgpool)
 *
 * then the same epilogue for every kind, in this order:
 *
 *   v = acc + bias                       (per column; GEMM: folded biases; LayerNorm: β; else 0)
 *   v = v + residual                     (epilogue.residual === 'identity': the value `shortcut`)
 *   v = v · scale + shift                (epilogue.affine: a BatchNorm that could not fold)
 *   y = activation(v)                    (epilogue.activation)
 *
 * Columns past the real width are written as exact zeros by every kernel.
 * Steps name the op nodes they compute by index into OpGraph.nodes (`parts`, `affine`,
 * `norm`), never by position in a file; graph/fold.ts turns a step and those nodes' tensors into
 * the numbers a backend packs (FoldedStep).
 */

/** The activations a step's epilogue applies. 'gelu' is exact (erf); 'gelu_tanh' the tanh approximation. */
export type ActivationFn = 'none' | 'relu' | 'leaky_relu' | 'gelu' | 'gelu_tanh' | 'silu' | 'sigmoid' | 'tanh';

export interface StepActivation {
  fn: ActivationFn;
  /** leaky_relu's negative slope; 0 otherwise. */
  slope: number;
}

export interface Epilogue {
  /**
   * 'identity': add the value `shortcut` (same width as the output);
   * 'projection' (gemm and conv): `shortcut` is a second left operand, multiplied by the step's
   * second part in the same GEMM (`[input | shortcut] · [W ; Ws]`), both biases summed; in a conv
   * step the second part is a 1×1 conv without padding, reading `shortcut` at its own stride.
   */
  residual: 'none' | 'identity' | 'projection';
  /** A per-column scale and shift after the residual (FoldedStep.scale / shift). */
  affine: boolean;
  activation: StepActivation;
}

/** The step kinds every backend runs. */
export type StepKind = 'gemm' | 'layernorm' | 'elementwise';
/** Every step kind: those, and the image steps (conv, pool), which WebGPU and WebAssembly run (the reference runs the graph). */
export type AnyStepKind = StepKind | 'conv' | 'pool';

/** Where a convolution's window reads, per output pixel: PyTorch's attributes, as pairs [along H, along W]. */
export interface ConvGeometry {
  kernel: [number, number];
  stride: [number, number];
  /** [top, left, bottom, right], zero padding. */
  padding: [number, number, number, number];
  dilation: [number, number];
}

/** A pooling step's window; the attrs of the kind files, checked there. */
export interface PoolGeometry {
  op: 'maxpool2d' | 'avgpool2d' | 'global_avgpool';
  kernel: [number, number];
  stride: [number, number];
  /** Both sides, as PyTorch's. */
  padding: [number, number];
  dilation: [number, number];
  /** avgpool2d: whether the divisor counts the padding. */
  countIncludePad: boolean;
}

/** One Linear (or Conv2d) of a gemm (or conv) step, with the BatchNorms folded into it: `before` on its inputs, `after` on its outputs. */
export interface GemmPart {
  /** Index of the linear node in OpGraph.nodes; in a conv step, of the conv2d node. */
  linear: number;
  /** A batchnorm node whose output only this linear reads: folded into its columns (exact for Linear). */
  before: number | null;
  /** A batchnorm node right after the linear: folded into its rows. */
  after: number | null;
  /** Conv steps: the conv's window (a projection part's is 1×1 with zero padding). */
  conv?: ConvGeometry;
}

export interface AnyStep {
  /** Position in FusedModel.steps. */
  index: number;
  kind: AnyStepKind;
  /** The fused operation's name, as describe() reports it (e.g. 'linear_relu', 'residual_identity'). */
  op: string;
  /** e.g. "blocks.0.linear1 + blocks.0.bn1 + relu". */
  label: string;
  /** Names of the op nodes this step computes, in graph order. */
  nodes: string[];
  /** Value read (gemm: the left operand; layernorm and elementwise: the input). */
  input: number;
  /** Value the residual reads, or the projection's left operand; null when there is none. */
  shortcut: number | null;
  /** Value written. */
  output: number;
  /** gemm (conv): the Linears (Conv2ds) stacked along the inner dimension, [main] or [main, projection]; [] otherwise. */
  parts: GemmPart[];
  /** The batchnorm node whose scale and shift the epilogue applies (epilogue.affine), else null. */
  affine: number | null;
  /** layernorm: the layernorm node; else null. */
  norm: number | null;
  /** layernorm: its eps; 0 otherwise. */
  eps: number;
  /** pool steps: the window. */
  pool?: PoolGeometry;
  /**
   * gemm steps: 'mean_pixels' when the step begins with a global average pooling: `input` is an
   * image [C, H, W] and the GEMM's left operand is each channel's mean over its H·W pixels
   * (inFeatures = C). Absent otherwise.
   */
  prologue?: 'mean_pixels';
  epilogue: Epilogue;
  /** Features read from `input` (the GEMM's main inner size). */
  inFeatures: number;
  /** Inner size of the projection done in the same step; 0 without one. */
  shortcutFeatures: number;
  outFeatures: number;
  /**
   * Columns of the epilogue (bias, scale, shift, out_cols): outFeatures for a row of features,
   * C for an image [C, H, W], whose epilogue is per channel.
   */
  channels: number;
}

export interface ValueInfo {
  /** Shape of one row: [features], or [C, H, W]. */
  shape: number[];
}

export interface AnyFusedModel {
  /** Value 0 is the model input; `output` is the model output. */
  values: ValueInfo[];
  steps: AnyStep[];
  output: number;
}
