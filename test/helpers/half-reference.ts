import { foldBatchNorm } from '../../src/graph/fold.js';
import type { LayerSpec, LinearSpec, ModelSpec } from '../../src/graph/spec.js';
import { referenceForward } from '../../src/runtime/reference/forward.js';
import { halfBits } from '../../src/runtime/webgpu/half.js';

/**
 * The float64 reference of what precision: 'f16' computes: every BatchNorm folded into its
 * linear (float64), the folded weight rounded to f32 and then to f16 (as the GPU's packing
 * does, with halfBits, which test/half.test.ts checks bit for bit against PyTorch's .half()),
 * the bias kept. Against it, an f16 run has only f32 accumulation error left, so the usual
 * GPU tolerance applies.
 */
export function halfWeightsForward(spec: ModelSpec, x: ArrayLike<number>, rows: number): Float64Array {
  return referenceForward({ ...spec, layers: spec.layers.map(roundLayer) }, x, rows);
}

function fromHalf(h: number): number {
  const exponent = (h >> 10) & 0x1f;
  const magnitude = exponent === 0 ? (h & 0x3ff) * 2 ** -24 : exponent === 0x1f ? (h & 0x3ff ? NaN : Infinity) : (1 + (h & 0x3ff) / 1024) * 2 ** (exponent - 15);
  return h & 0x8000 ? -magnitude : magnitude;
}

function rounded(linear: LinearSpec, bn: Parameters<typeof foldBatchNorm>[1]): LinearSpec {
  const { scale, bias } = foldBatchNorm(linear, bn);
  const k = linear.inFeatures;
  const weight = Float64Array.from(linear.weight, (w, i) => fromHalf(halfBits(Math.fround(w * scale[Math.floor(i / k)]!))));
  return { ...linear, weight, bias };
}

function roundLayer(layer: LayerSpec): LayerSpec {
  if (layer.type === 'linear') return { ...layer, linear: rounded(layer.linear, layer.bn), bn: null };
  return {
    ...layer,
    linear1: rounded(layer.linear1, layer.bn1),
    bn1: null,
    linear2: rounded(layer.linear2, layer.bn2),
    bn2: null,
    shortcut: layer.shortcut && { linear: rounded(layer.shortcut.linear, layer.shortcut.bn), bn: null },
  };
}
