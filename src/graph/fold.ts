import { GraphError } from '../errors.js';
import type { BatchNormSpec, LinearSpec } from './spec.js';

/** The largest finite float32: backends that compute in f32 store folded weights as such. */
const F32_MAX = 3.4028234663852886e38;

/**
 * A linear layer with a BatchNorm folded in, as a per-output-row scale of the original weight
 * plus a new bias: W' = diag(scale) · W, b'. Keeping the scale separate lets the weight be
 * scaled while it is packed for the GPU, with no folded copy of the weight ever allocated.
 */
export interface FoldedLinear {
  scale: Float64Array;
  bias: Float64Array;
}

/**
 * Folds an eval-mode BatchNorm1d into the linear layer before it:
 *   s = γ / √(σ² + ε),   W' = W · s (per output row),   b' = (b − μ) · s + β.
 * In float64 (JS arithmetic), so the only rounding is the final f32 store.
 */
export function foldBatchNorm(linear: LinearSpec, bn: BatchNormSpec | null): FoldedLinear {
  const n = linear.outFeatures;
  const scale = new Float64Array(n).fill(1);
  const bias = linear.bias ? Float64Array.from(linear.bias) : new Float64Array(n);
  if (bn) {
    for (let o = 0; o < n; o++) {
      scale[o] = (bn.weight ? bn.weight[o]! : 1) / Math.sqrt(bn.runningVar[o]! + bn.eps);
      bias[o] = (bias[o]! - bn.runningMean[o]!) * scale[o]! + (bn.bias ? bn.bias[o]! : 0);
    }
    checkFloat32Range(linear, bn, scale, bias);
  }
  return { scale, bias };
}

/**
 * Folding may turn values PyTorch keeps in range (it applies BatchNorm after the linear, in f32)
 * into weights beyond float32 (a huge γ over a tiny variance): stored as f32 they would become
 * infinities, and Inf · 0 = NaN outputs PyTorch never gives. Refused instead. Values that were
 * already non-finite in the file stay as they are (they propagate as in PyTorch).
 */
function checkFloat32Range(linear: LinearSpec, bn: BatchNormSpec, scale: Float64Array, bias: Float64Array): void {
  const k = linear.inFeatures;
  const beyond = (v: number) => Number.isFinite(v) && Math.abs(v) > F32_MAX;
  for (let o = 0; o < linear.outFeatures; o++) {
    let largest = 0;
    for (let i = 0; i < k; i++) largest = Math.max(largest, Math.abs(linear.weight[o * k + i]!));
    const weight = largest * Math.abs(scale[o]!);
    if (!beyond(weight) && !beyond(bias[o]!)) continue;
    throw new GraphError(
      `Folding BatchNorm "${bn.name}" into "${linear.name}" gives output ${o} a ${beyond(weight) ? `weight of ${weight}` : `bias of ${bias[o]}`}, ` +
        `beyond float32's range (largest weight ${largest}, BatchNorm scale ${scale[o]}): the WebGPU backend computes in float32 and ` +
        "would turn it into an infinity, and Inf · 0 into NaN. Check the layer's weights and the BatchNorm's weight and running_var, " +
        "or run on { backend: 'cpu' } (float64).",
    );
  }
}
