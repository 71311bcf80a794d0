import type { AttrValue, ImagePreprocess } from '../graph/op-graph.js';
import { KINDS } from '../graph/kinds/registry.js';

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
   * 'identity', 'flatten', and for images 'conv2d', 'maxpool2d', 'avgpool2d', 'global_avgpool'
   * (more as resgpu learns them; an unknown op is refused by name).
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
  /**
   * Golden vectors: a few input rows and PyTorch's float64 outputs for them, checked on the
   * device at load (docs/MODEL-FORMAT.md; at most 64 rows). The exporter writes them.
   */
  golden?: { inputs: (number | string)[][]; outputs: (number | string)[][]; outputs_f32?: (number | string)[][]; source?: string };
  /**
   * For an image input ([1 or 3, H, W]): how an image becomes a row (docs/MODEL-FORMAT.md):
   * `mean` and `std` one per channel (std > 0), `size` [H, W] (default: the input's, the only
   * value allowed), `color` 'rgb' or 'gray' (default: by the channel count). No other keys: an
   * image step this version does not know is refused rather than skipped.
   */
  preprocess?: { mean: number[]; std: number[]; size?: [number, number]; color?: 'rgb' | 'gray' };
}

/** Nodes a graph may have: each costs bookkeeping and maybe a dispatch, so a tiny hostile file cannot ask for unbounded work. */
export const MAX_NODES = 10_000;

/** A version-2 manifest after parseManifestV2: structure checked, attributes checked and defaulted by their kinds. */
export interface CheckedManifestV2 extends Omit<GraphManifestV2, 'nodes' | 'preprocess'> {
  preprocess?: ImagePreprocess;
  nodes: (Omit<ManifestNode, 'attrs'> & { name: string; params: Record<string, string>; attrs: Record<string, AttrValue> })[];
}

/**
 * Validates a version-2 manifest's structure: known ops, arities, tensor roles, attributes (by
 * each kind), each value written once and read only after it is written, every node's output
 * used. Shapes are checked later, against the file's tensors (resolve.ts). Linear in the size
 * of the manifest.
 */
export function parseManifestV2(o: Record<string, unknown>, bad: (why: string) => Error): CheckedManifestV2 {
  const inputs = o.inputs;
  if (!Array.isArray(inputs) || inputs.length !== 1) throw bad('"inputs" must be an array of one input ({ "name", "shape" }); resgpu runs models with one input');
  const input = inputs[0] as Record<string, unknown>;
  if (typeof input !== 'object' || input === null || typeof input.name !== 'string' || input.name === '') throw bad('inputs[0].name must be a non-empty string');
  if (!Array.isArray(input.shape) || input.shape.length < 1 || input.shape.length > 3 || !input.shape.every((d) => Number.isSafeInteger(d) && d >= 1 && d <= 1 << 24)) {
    throw bad('inputs[0].shape must be the row shape without the batch: 1 to 3 positive integers, e.g. [30]');
  }
  const outputs = o.outputs;
  if (!Array.isArray(outputs) || outputs.length !== 1 || typeof outputs[0] !== 'string') throw bad('"outputs" must be an array of one value name');
  if (!Array.isArray(o.nodes) || o.nodes.length === 0) throw bad('"nodes" must be a non-empty array');
  if (o.nodes.length > MAX_NODES) throw bad(`it has ${o.nodes.length} nodes, more than the ${MAX_NODES} resgpu runs`);
  const written = new Map<string, number>([[input.name, -1]]);
  const read = new Set<string>([outputs[0]]);
  const nodes = o.nodes.map((raw, i) => {
    const node = parseNode(raw, i, bad);
    for (const v of node.inputs) {
      if (!written.has(v)) throw bad(`nodes[${i}] (${node.name}) reads "${v}" before any node writes it (nodes must come after the nodes whose outputs they read)`);
      read.add(v);
    }
    if (written.has(node.output)) throw bad(`nodes[${i}] (${node.name}) writes "${node.output}", which ${written.get(node.output) === -1 ? 'is the graph input' : `nodes[${written.get(node.output)}] already writes`}`);
    written.set(node.output, i);
    return node;
  });
  if (!written.has(outputs[0])) throw bad(`the output "${outputs[0]}" is written by no node`);
  nodes.forEach((n, i) => {
    if (!read.has(n.output)) throw bad(`nodes[${i}] (${n.name}) writes "${n.output}", which nothing reads and which is not the output`);
  });
  const names = (key: 'features' | 'labels') => {
    const v = o[key];
    if (v === undefined) return {};
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw bad(`"${key}" must be an array of strings`);
    return { [key]: v as string[] };
  };
  if (o.golden !== undefined && (typeof o.golden !== 'object' || o.golden === null)) throw bad('"golden" must be an object { inputs, outputs }');
  return {
    format: 'resgpu-graph',
    version: 2,
    inputs: [{ name: input.name, shape: input.shape as number[] }],
    outputs: [outputs[0]],
    nodes,
    ...names('features'),
    ...names('labels'),
    ...(o.golden !== undefined && { golden: o.golden as GraphManifestV2['golden'] }),
    ...(o.preprocess !== undefined && { preprocess: parsePreprocess(o.preprocess, input.shape as number[], bad) }),
  };
}

const PREPROCESS_KEYS = ['mean', 'std', 'size', 'color'];

/** `preprocess`, checked against the input it describes: every value used, none guessed. */
function parsePreprocess(raw: unknown, shape: readonly number[], bad: (why: string) => Error): ImagePreprocess {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('"preprocess" must be an object { mean, std, size, color }');
  const p = raw as Record<string, unknown>;
  const unknown = Object.keys(p).find((k) => !PREPROCESS_KEYS.includes(k));
  // A step this version does not know (a crop, another interpolation) would be skipped silently.
  if (unknown !== undefined) throw bad(`"preprocess" has "${unknown.slice(0, 40)}", which resgpu does not know (it knows ${PREPROCESS_KEYS.join(', ')})`);
  const [c, h, w] = shape as [number, number, number];
  if (shape.length !== 3 || (c !== 1 && c !== 3)) throw bad(`"preprocess" is for an image input [1 or 3, H, W]; this input is [${shape.join(', ')}]`);
  const perChannel = (key: 'mean' | 'std') => {
    const v = p[key];
    const positive = key === 'std';
    if (!Array.isArray(v) || v.length !== c || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0))) {
      const got = JSON.stringify(v) ?? 'nothing';
      throw bad(`preprocess.${key} must be ${c} finite ${positive ? 'positive ' : ''}number${c > 1 ? 's' : ''}, one per channel of the input [${shape.join(', ')}]; got ${got.length > 80 ? `${got.slice(0, 80)}…` : got}`);
    }
    return [...(v as number[])];
  };
  const mean = perChannel('mean');
  const std = perChannel('std');
  if (p.size !== undefined && !(Array.isArray(p.size) && p.size.length === 2 && p.size[0] === h && p.size[1] === w)) {
    throw bad(`preprocess.size must be the input's [H, W], [${h}, ${w}] (images are resized to the input's size); got ${JSON.stringify(p.size).slice(0, 80)}`);
  }
  const color = c === 3 ? 'rgb' : 'gray';
  if (p.color !== undefined && p.color !== color) throw bad(`preprocess.color must be "${color}" for an input of ${c} channel${c > 1 ? 's' : ''}; got ${JSON.stringify(p.color).slice(0, 40)}`);
  return { mean, std, size: [h, w], color };
}

function parseNode(raw: unknown, i: number, bad: (why: string) => Error): CheckedManifestV2['nodes'][number] {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad(`nodes[${i}] must be an object`);
  const n = raw as Record<string, unknown>;
  const kind = typeof n.op === 'string' && Object.hasOwn(KINDS, n.op) ? KINDS[n.op]! : null;
  if (!kind) throw bad(`nodes[${i}].op ${JSON.stringify(n.op)} is unknown (resgpu runs ${Object.keys(KINDS).join(', ')})`);
  if (typeof n.output !== 'string' || n.output === '') throw bad(`nodes[${i}].output must be a non-empty value name`);
  if (n.name !== undefined && typeof n.name !== 'string') throw bad(`nodes[${i}].name must be a string`);
  const name = (n.name as string | undefined) || n.output;
  const where = `nodes[${i}] (${name}, ${kind.op})`;
  if (!Array.isArray(n.inputs) || n.inputs.length !== kind.arity || !n.inputs.every((v) => typeof v === 'string')) {
    throw bad(`${where}.inputs must be an array of ${kind.arity} value name${kind.arity === 1 ? '' : 's'}`);
  }
  const params = (n.params ?? {}) as Record<string, unknown>;
  if (typeof params !== 'object' || params === null || Array.isArray(params)) throw bad(`${where}.params must be an object of tensor names`);
  const roles = [...kind.params.required, ...kind.params.optional];
  for (const [role, tensor] of Object.entries(params)) {
    if (!roles.includes(role)) throw bad(`${where}.params has "${role}"; a ${kind.op} has ${roles.length > 0 ? roles.join(', ') : 'no tensors'}`);
    if (typeof tensor !== 'string' || tensor === '') throw bad(`${where}.params.${role} must be a tensor name`);
  }
  for (const role of kind.params.required) if (!(role in params)) throw bad(`${where} needs params.${role}`);
  const rawAttrs = (n.attrs ?? {}) as Record<string, unknown>;
  if (typeof rawAttrs !== 'object' || rawAttrs === null || Array.isArray(rawAttrs)) throw bad(`${where}.attrs must be an object`);
  let attrs: Record<string, AttrValue>;
  try {
    attrs = kind.attrs(rawAttrs);
  } catch (e) {
    throw bad(`${where}: ${(e as Error).message}`);
  }
  return { op: kind.op, name, inputs: n.inputs as string[], output: n.output, params: params as Record<string, string>, attrs };
}
