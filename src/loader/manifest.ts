import { GraphError, ModelFormatError } from '../errors.js';
import { DEFAULT_NORM_EPS as DEFAULT_BATCHNORM_EPS } from '../graph/op-graph.js';
import { parseManifestV2, type CheckedManifestV2 } from './manifest-v2.js';

/** The activations a version-1 linear layer may name. */
export type Activation = 'relu' | 'none';

/**
 * The graph manifest, version 1: which state_dict prefixes form which layers, in order.
 * This format is a public contract: extend it (new optional fields, new layer types), never
 * change the meaning of what is here.
 */
export interface GraphManifest {
  /** Always 'resgpu-graph'. */
  format: 'resgpu-graph';
  /** Always 1 (this version). */
  version: 1;
  /** Input features. */
  input: number;
  /** The layers, in the order they run. */
  layers: ManifestLayer[];
  /** eps of every BatchNorm; PyTorch's default 1e-5 when absent. */
  batchnorm_eps?: number;
  /** Names of the model's input and output (kept from ONNX files); informational. */
  input_names?: string[];
  /** See `input_names`. */
  output_names?: string[];
  /** One name per input feature, in column order (e.g. for requests keyed by name). */
  features?: string[];
  /** One class label per output, in column order. */
  labels?: string[];
}

/** A manifest after parseManifest: checked, defaults filled in. */
type OptionalNames = 'input_names' | 'output_names' | 'features' | 'labels';
export type CheckedManifest = Required<Omit<GraphManifest, OptionalNames>> & Pick<GraphManifest, OptionalNames>;

/**
 * y = relu(bn2(linear2(relu(bn1(linear1(x))))) + shortcut(x)); each field names a state_dict
 * prefix, and a BatchNorm that is absent or null is not there.
 */
export interface ManifestResidualBlock {
  type: 'residual_block';
  /** The first Linear, [hidden, in]. */
  linear1: string;
  /** BatchNorm1d after linear1. */
  bn1?: string | null;
  /** The second Linear, [out, hidden]. */
  linear2: string;
  /** BatchNorm1d after linear2. */
  bn2?: string | null;
  /** Projection shortcut; absent or null means identity. */
  shortcut?: string | null;
  /** BatchNorm1d after the projection shortcut. */
  shortcut_bn?: string | null;
}

/** y = activation(bn(linear(x))): a plain layer (a stem or a head); fields name state_dict prefixes. */
export interface ManifestLinear {
  type: 'linear';
  /** The Linear, [out, in]. */
  linear: string;
  /** BatchNorm after the linear, before the activation. */
  bn?: string | null;
  /** 'none' when absent. */
  activation?: Activation;
}

/** A layer of the manifest. */
export type ManifestLayer = ManifestResidualBlock | ManifestLinear;

/**
 * Layers a graph may have. A residual MLP has tens; the cap bounds the work and memory a tiny
 * hostile file can ask for (each layer costs a dispatch, buffers and bookkeeping).
 */
export const MAX_LAYERS = 10_000;

/** Key under which a safetensors file's __metadata__ carries the manifest as a JSON string. */
export const GRAPH_METADATA_KEY = 'resgpu.graph';

/** Validates a manifest (version 1 or 2) given as a parsed object or as JSON text; returns it with defaults filled in. */
export function parseManifest(input: unknown): CheckedManifest | CheckedManifestV2 {
  let m = input;
  if (typeof m === 'string') {
    try {
      m = JSON.parse(m);
    } catch (e) {
      throw new ModelFormatError(`The graph manifest is not valid JSON (${(e as Error).message}).`);
    }
  }
  const bad = (why: string) => new ModelFormatError(`Invalid graph manifest: ${why}.`);
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw bad('it must be a JSON object');
  const o = m as Record<string, unknown>;
  if (o.format !== 'resgpu-graph') throw bad(`"format" must be "resgpu-graph", got ${JSON.stringify(o.format)}`);
  if (o.version === 2) return parseManifestV2(o, bad);
  if (o.version !== 1) throw bad(`"version" ${JSON.stringify(o.version)} is not supported (this resgpu reads versions 1 and 2)`);
  if (!Number.isSafeInteger(o.input) || (o.input as number) < 1) throw bad('"input" must be a positive integer');
  if (!Array.isArray(o.layers) || o.layers.length === 0) throw bad('"layers" must be a non-empty array');
  if (o.layers.length > MAX_LAYERS) throw bad(`it has ${o.layers.length} layers, more than the ${MAX_LAYERS} resgpu runs`);
  const eps = o.batchnorm_eps ?? DEFAULT_BATCHNORM_EPS;
  if (typeof eps !== 'number' || !(eps >= 0)) throw bad('"batchnorm_eps" must be a non-negative number');
  const layers = o.layers.map((layer, i) => parseLayer(layer, i, bad));
  const names = (key: OptionalNames) => {
    const v = o[key];
    if (v === undefined) return {};
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw bad(`"${key}" must be an array of strings`);
    return { [key]: v as string[] };
  };
  const features = names('features').features;
  if (features && (features.length !== o.input || new Set(features).size !== features.length)) {
    throw bad(`"features" must name each of the ${o.input} inputs once (got ${features.length} names)`);
  }
  // "labels" (one per output) is checked by its users: the output width is known only after resolving.
  return { format: 'resgpu-graph', version: 1, input: o.input as number, layers, batchnorm_eps: eps, ...names('input_names'), ...names('output_names'), ...names('features'), ...names('labels') };
}

function parseLayer(layer: unknown, i: number, bad: (why: string) => Error): ManifestLayer {
  if (typeof layer !== 'object' || layer === null) throw bad(`layers[${i}] must be an object`);
  const l = layer as Record<string, unknown>;
  const name = (key: string, required: boolean): string | null => {
    const v = l[key];
    if (v === undefined || v === null) {
      if (required) throw bad(`layers[${i}] (${String(l.type)}) needs "${key}"`);
      return null;
    }
    if (typeof v !== 'string' || v === '') throw bad(`layers[${i}].${key} must be a state_dict prefix string`);
    return v;
  };
  if (l.type === 'residual_block') {
    const block: ManifestResidualBlock = {
      type: 'residual_block',
      linear1: name('linear1', true)!,
      bn1: name('bn1', false),
      linear2: name('linear2', true)!,
      bn2: name('bn2', false),
      shortcut: name('shortcut', false),
      shortcut_bn: name('shortcut_bn', false),
    };
    if (block.shortcut_bn && !block.shortcut) {
      throw bad(`layers[${i}] has "shortcut_bn" without "shortcut"; an identity shortcut has no BatchNorm`);
    }
    return block;
  }
  if (l.type === 'linear') {
    const activation = l.activation ?? 'none';
    if (activation !== 'relu' && activation !== 'none') {
      throw bad(`layers[${i}].activation must be "relu" or "none", got ${JSON.stringify(activation)}`);
    }
    return { type: 'linear', linear: name('linear', true)!, bn: name('bn', false), activation };
  }
  throw bad(`layers[${i}].type ${JSON.stringify(l.type)} is unknown (expected "residual_block" or "linear")`);
}

/**
 * Each state_dict prefix feeds one place in the graph. Shared weights are refused: nothing in
 * the model family needs them, and a manifest naming one tiny Linear thousands of times would
 * cost memory out of all proportion to the file. Checked after the shapes (resolve.ts), so a
 * shape error is reported as such.
 */
export function checkEachPrefixOnce(layers: readonly ManifestLayer[]): void {
  const seen = new Map<string, string>();
  layers.forEach((layer, i) => {
    for (const [key, prefix] of Object.entries(layer)) {
      if (key === 'type' || key === 'activation' || typeof prefix !== 'string') continue;
      const where = `layers[${i}].${key}`;
      const before = seen.get(prefix);
      if (before) {
        throw new GraphError(`The graph's ${where} names "${prefix}", already used by ${before}; each module's weights are used once (shared weights are not supported).`);
      }
      seen.set(prefix, where);
    }
  });
}
