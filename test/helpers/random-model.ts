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
  head?: { out: number; bn?: boolean; activation?: 'relu' | 'none' };
  seed?: number;
  /** Store tensors as float64 instead of float32. */
  float64?: boolean;
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
  const uniform = (n: number, lo: number, hi: number) => {
    const a = cfg.float64 ? new Float64Array(n) : new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
    return a;
  };
  const tensors: TensorToWrite[] = [];
  const linear = (name: string, inF: number, outF: number) => {
    const bound = 1 / Math.sqrt(inF);
    tensors.push({ name: `${name}.weight`, shape: [outF, inF], data: uniform(outF * inF, -bound, bound) });
    tensors.push({ name: `${name}.bias`, shape: [outF], data: uniform(outF, -bound, bound) });
    return name;
  };
  const batchNorm = (name: string, n: number) => {
    tensors.push({ name: `${name}.weight`, shape: [n], data: uniform(n, 0.5, 1.5) });
    tensors.push({ name: `${name}.bias`, shape: [n], data: uniform(n, -0.5, 0.5) });
    tensors.push({ name: `${name}.running_mean`, shape: [n], data: uniform(n, -0.5, 0.5) });
    tensors.push({ name: `${name}.running_var`, shape: [n], data: uniform(n, 0.5, 2) });
    return name;
  };

  const layers: ManifestLayer[] = [];
  let width = cfg.input;
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
  if (cfg.head) {
    layers.push({
      type: 'linear',
      linear: linear('head', width, cfg.head.out),
      bn: cfg.head.bn ? batchNorm('head_bn', cfg.head.out) : null,
      activation: cfg.head.activation ?? 'none',
    });
    width = cfg.head.out;
  }
  const manifest: GraphManifest = { format: 'resgpu-graph', version: 1, input: cfg.input, layers, batchnorm_eps: 1e-5 };
  const bytes = encodeSafetensors(tensors, { [GRAPH_METADATA_KEY]: JSON.stringify(manifest) });
  return { bytes, manifest, tensors, outputSize: width };
}
