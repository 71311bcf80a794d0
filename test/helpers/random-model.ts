import { encodeSafetensors, GRAPH_METADATA_KEY, type GraphManifest, type ManifestLayer, type TensorToWrite } from '../../src/index.js';

/**
 * Random models in the seed's shape, made in TypeScript: state_dict keys as PyTorch names
 * them (blocks.N.linear1, blocks.N.bn1, blocks.N.shortcut.0 / .1, head), weights scaled like
 * PyTorch's default init so activations stay O(1) through deep stacks, and BatchNorms with
 * non-trivial running statistics and affine parameters.
 */
export interface BlockConfig {
  hidden: number;
  /** Output width; the input width (identity shortcut) when absent. */
  out?: number;
  /** Projection shortcut even when widths match; forced when they differ. */
  projection?: boolean;
  bn?: boolean;
  /** BatchNorm on the projection shortcut (default: same as bn). */
  shortcutBn?: boolean;
}

export interface ModelConfig {
  input: number;
  blocks: BlockConfig[];
  /** A plain linear layer before the blocks. */
  stem?: DenseConfig;
  /** A plain linear layer after the blocks. */
  head?: DenseConfig;
  seed?: number;
  /** How tensors are stored (default F32). */
  dtype?: 'F32' | 'F64' | 'F16' | 'BF16';
}

export interface DenseConfig {
  out: number;
  bn?: boolean;
  activation?: 'relu' | 'none';
}

export interface RandomModel {
  bytes: Uint8Array;
  manifest: GraphManifest;
  tensors: TensorToWrite[];
  outputSize: number;
}

/** mulberry32: small, fast, deterministic. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomInput(rows: number, cols: number, seed = 7): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: rows * cols }, () => r() * 4 - 2);
}

export function makeRandomModel(cfg: ModelConfig): RandomModel {
  const r = rng(cfg.seed ?? 1);
  const tensors: TensorToWrite[] = [];
  const add = (name: string, shape: number[], lo: number, hi: number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = Float64Array.from({ length: n }, () => lo + (hi - lo) * r());
    tensors.push(storeAs(cfg.dtype ?? 'F32', name, shape, values));
  };
  const linear = (name: string, inF: number, outF: number) => {
    const bound = 1 / Math.sqrt(inF);
    add(`${name}.weight`, [outF, inF], -bound, bound);
    add(`${name}.bias`, [outF], -bound, bound);
    return name;
  };
  const batchNorm = (name: string, n: number) => {
    add(`${name}.weight`, [n], 0.5, 1.5);
    add(`${name}.bias`, [n], -0.5, 0.5);
    add(`${name}.running_mean`, [n], -0.5, 0.5);
    add(`${name}.running_var`, [n], 0.5, 2);
    return name;
  };

  const layers: ManifestLayer[] = [];
  let width = cfg.input;
  const dense = (name: string, d: DenseConfig) => {
    layers.push({
      type: 'linear',
      linear: linear(name, width, d.out),
      bn: d.bn ? batchNorm(`${name}_bn`, d.out) : null,
      activation: d.activation ?? 'none',
    });
    width = d.out;
  };
  if (cfg.stem) dense('stem', cfg.stem);
  cfg.blocks.forEach((b, i) => {
    const p = `blocks.${i}`;
    const out = b.out ?? width;
    const projection = b.projection || out !== width;
    const shortcutBn = b.shortcutBn ?? b.bn;
    layers.push({
      type: 'residual_block',
      linear1: linear(`${p}.linear1`, width, b.hidden),
      bn1: b.bn ? batchNorm(`${p}.bn1`, b.hidden) : null,
      linear2: linear(`${p}.linear2`, b.hidden, out),
      bn2: b.bn ? batchNorm(`${p}.bn2`, out) : null,
      shortcut: projection ? linear(`${p}.shortcut.0`, width, out) : null,
      shortcut_bn: projection && shortcutBn ? batchNorm(`${p}.shortcut.1`, out) : null,
    });
    width = out;
  });
  if (cfg.head) dense('head', cfg.head);
  const manifest: GraphManifest = { format: 'resgpu-graph', version: 1, input: cfg.input, layers, batchnorm_eps: 1e-5 };
  const bytes = encodeSafetensors(tensors, { [GRAPH_METADATA_KEY]: JSON.stringify(manifest) });
  return { bytes, manifest, tensors, outputSize: width };
}

/**
 * Encodes values in a safetensors dtype. F16 and BF16 truncate (any bit pattern is a valid
 * value, and the reference decodes the same bytes the engine does); values below F16's
 * normal range become zero.
 */
function storeAs(dtype: 'F32' | 'F64' | 'F16' | 'BF16', name: string, shape: number[], values: Float64Array): TensorToWrite {
  if (dtype === 'F64') return { name, shape, data: values };
  const f32 = Float32Array.from(values);
  if (dtype === 'F32') return { name, shape, data: f32 };
  const bits = new Uint32Array(f32.buffer);
  const half = new Uint16Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i]!;
    if (dtype === 'BF16') {
      half[i] = b >>> 16;
      continue;
    }
    const exponent = ((b >>> 23) & 0xff) - 127 + 15;
    half[i] = ((b >>> 16) & 0x8000) | (exponent <= 0 ? 0 : (exponent << 10) | ((b >>> 13) & 0x3ff));
  }
  return { name, shape, dtype, bytes: new Uint8Array(half.buffer) };
}
