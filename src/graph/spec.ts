/**
 * The network as loaded from a file, before any backend touches it: PyTorch's own layouts and
 * values, BatchNorm still separate. Loaders produce a ModelSpec; the reference backend runs it
 * as is; the other backends lower it once (lower.ts), fold each BatchNorm (fold.ts) and pack
 * the weights in their own layouts. Neither side imports the other: this folder sits between.
 */

/** PyTorch's default BatchNorm1d eps, used wherever a file does not record its own. */
export const DEFAULT_BATCHNORM_EPS = 1e-5;

/** Weights keep float64 when the file has it, so BatchNorm folding loses nothing before the f32 upload. */
export type FloatArray = Float32Array | Float64Array;

export interface LinearSpec {
  /** state_dict prefix, e.g. "blocks.0.linear1". */
  name: string;
  inFeatures: number;
  outFeatures: number;
  /** [outFeatures, inFeatures], row-major, as torch.nn.Linear stores it. */
  weight: FloatArray;
  bias: FloatArray | null;
}

export interface BatchNormSpec {
  name: string;
  features: number;
  /** gamma; null when the BatchNorm has affine=False (then gamma = 1). */
  weight: FloatArray | null;
  /** beta; null when affine=False (then beta = 0). */
  bias: FloatArray | null;
  runningMean: FloatArray;
  runningVar: FloatArray;
  eps: number;
}

export type Activation = 'relu' | 'none';

/** linear → optional BatchNorm → activation. */
export interface DenseLayerSpec {
  type: 'linear';
  name: string;
  linear: LinearSpec;
  bn: BatchNormSpec | null;
  activation: Activation;
}

/**
 * relu(bn2(linear2(relu(bn1(linear1(x))))) + shortcut(x)), where shortcut is the identity
 * or linear (+ BatchNorm) projection. Dropout between the two halves is absent: eval mode.
 */
export interface ResidualBlockSpec {
  type: 'residual_block';
  name: string;
  linear1: LinearSpec;
  bn1: BatchNormSpec | null;
  linear2: LinearSpec;
  bn2: BatchNormSpec | null;
  shortcut: { linear: LinearSpec; bn: BatchNormSpec | null } | null;
}

export type LayerSpec = DenseLayerSpec | ResidualBlockSpec;

export interface ModelSpec {
  inputSize: number;
  outputSize: number;
  layers: LayerSpec[];
  /** The file's names for the input and output, where it has them (ONNX). */
  inputNames?: string[];
  outputNames?: string[];
  /** Input feature names and output class labels, where the manifest carries them. */
  features?: string[];
  labels?: string[];
}

/** Output width of a layer. */
export function layerOutputSize(layer: LayerSpec): number {
  return layer.type === 'linear' ? layer.linear.outFeatures : layer.linear2.outFeatures;
}
