/**
 * The backend-neutral model: an op graph. Loaders produce it (from a manifest, an ONNX graph or
 * an inferred state_dict); the reference backend runs it node by node in float64; the fusion
 * pass (fuse.ts) lowers it into backend steps. Each node kind lives in one file of kinds/
 * (its attributes, shape rule, float64 reference and description). Neither the loader nor the
 * runtime is imported here.
 */

/** PyTorch's default BatchNorm/LayerNorm eps, used wherever a file does not record its own. */
export const DEFAULT_NORM_EPS = 1e-5;

/** Tensors keep float64 when the file has it, so folding loses nothing before the f32 upload. */
export type FloatArray = Float32Array | Float64Array;

/** A checked attribute value. */
export type AttrValue = number | string | boolean | readonly number[];

export interface OpNode {
  /** The kind (kinds/registry.ts): 'linear', 'batchnorm', 'layernorm', 'activation', 'add', ... */
  op: string;
  /** The module path in the source model, e.g. "blocks.0.linear1". */
  name: string;
  /** Values read, by number (0 is the model input). */
  inputs: number[];
  /** Value written. */
  output: number;
  /** Checked attributes, defaults filled in by the kind. */
  attrs: Readonly<Record<string, AttrValue>>;
  /** Tensor names by role, as the file names them. */
  params: Readonly<Record<string, string>>;
  /** The checked shape of each tensor the node has, by role (known from the file's header). */
  shapes: Readonly<Record<string, readonly number[]>>;
  /** Tensor data by role; empty until the node's tensors have arrived (shapes are checked before). */
  tensors: Readonly<Record<string, FloatArray>>;
}

export interface ValueInfo {
  /** The value's name in the manifest. */
  name: string;
  /** Shape of one row: [features], or [C, H, W]. */
  shape: number[];
}

/** One entry of describe().layers: a layer of the model as its file groups it. */
export interface LayerDescription {
  /** The layer's name in the file (its state_dict prefix or module path). */
  name: string;
  /** 'linear' or 'residual_block' for version-1 graphs; otherwise the op of the node ('linear', 'layernorm', ...). */
  type: string;
  /** Features in and out of the layer. */
  inFeatures: number;
  /** See `inFeatures`. */
  outFeatures: number;
  /** For residual blocks. */
  shortcut?: 'identity' | 'projection';
  /** Names of the BatchNorms folded into this layer's linears. */
  foldedBatchNorms: string[];
}

export interface OpGraph {
  /** Value 0 is the model input. */
  values: ValueInfo[];
  /** In execution order: each reads only values written before it. */
  nodes: OpNode[];
  /** The value the model returns. */
  output: number;
  /** The file's names for the input and output, where it has them. */
  inputNames?: string[];
  outputNames?: string[];
  /** Input feature names and output class labels, where the manifest carries them. */
  features?: string[];
  labels?: string[];
  /** describe().layers as a version-1 manifest groups them; absent for op graphs (one entry per node then). */
  layers?: LayerDescription[];
  /** Inputs and PyTorch's outputs recorded with the model, checked on the device at load (self-test.ts). */
  golden?: GoldenVectors;
  /** How an image becomes an input row, where the file says (the manifest's `preprocess`). */
  preprocess?: ImagePreprocess;
}

/**
 * An image model's preprocessing, as its file records it (manifest v2 `preprocess`): the image
 * decoded, its `color` channels taken, scaled to [0, 1], resized to `size`, then per channel
 * (x − mean) / std. Applied by whoever turns images into rows (resgpu-serve); run() takes rows.
 */
export interface ImagePreprocess {
  /** One per input channel. */
  mean: readonly number[];
  /** One per input channel, each > 0. */
  std: readonly number[];
  /** The resize target, [H, W]: the input's own height and width. */
  size: readonly [number, number];
  /** 'rgb' (3 channels, red first) or 'gray' (1 channel, the luminance). */
  color: 'rgb' | 'gray';
}

/** Golden vectors: a few input rows and what PyTorch computed for them, in float64. */
export interface GoldenVectors {
  rows: number;
  /** rows × input size. */
  inputs: Float32Array;
  /** rows × output size: PyTorch's float64 outputs (model.double()). */
  outputs: Float64Array;
  /** Where they come from, e.g. "exporter, torch 1.13.0". */
  source: string;
}

/** Elements of one row of a shape. */
export const rowSize = (shape: readonly number[]): number => shape.reduce((n, d) => n * d, 1);

/** Features per input row and per output row. */
export function graphSizes(g: OpGraph): { inputSize: number; outputSize: number } {
  return { inputSize: rowSize(g.values[0]!.shape), outputSize: rowSize(g.values[g.output]!.shape) };
}
