/**
 * The graph manifest, version 2: the op graph itself. Nodes in execution order, each reading
 * named values and writing one, with its tensors named by role (`params`) and its attributes
 * (`attrs`). docs/MODEL-FORMAT.md is the documentation; this format is a public contract:
 * extend it (new ops, new optional attributes), never change the meaning of what is here.
 */

/** A value's shape without the batch: `[features]`, or `[C, H, W]` for images. */
export type RowShape = number[];

/** An attribute value: a number, a string, a boolean, or a list of numbers (e.g. a stride). */
export type ManifestAttr = number | string | boolean | number[];

export interface ManifestNode {
  /**
   * The node's op: 'linear', 'batchnorm', 'layernorm', 'activation', 'add', 'dropout',
   * 'identity', 'flatten' (more as resgpu learns them; an unknown op is refused by name).
   */
  op: string;
  /** The module path in the source model (e.g. "blocks.0.linear1"), for messages and describe(); defaults to `output`. */
  name?: string;
  /** The values it reads, by name: the graph input's name or an earlier node's output. */
  inputs: string[];
  /** The value it writes: a name no other node writes. */
  output: string;
  /** Its tensors by role (e.g. { weight: "blocks.0.linear1.weight", bias: "blocks.0.linear1.bias" }). */
  params?: Record<string, string>;
  /** Its attributes (e.g. { eps: 1e-5 }, { fn: "leaky_relu", negative_slope: 0.01 }). */
  attrs?: Record<string, ManifestAttr>;
}

export interface GraphManifestV2 {
  /** Always 'resgpu-graph'. */
  format: 'resgpu-graph';
  /** 2: this version. */
  version: 2;
  /** The model input (one): its name and row shape. */
  inputs: [{ name: string; shape: RowShape }];
  /** The value the model returns (one), by name. */
  outputs: [string];
  /** The op nodes, each after every node whose output it reads. */
  nodes: ManifestNode[];
  /** One name per input feature, in column order (e.g. for requests keyed by name). */
  features?: string[];
  /** One class label per output, in column order. */
  labels?: string[];
}
