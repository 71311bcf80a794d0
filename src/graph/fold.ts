import type { BatchNormSpec, LinearSpec } from './spec.js';

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
  }
  return { scale, bias };
}
