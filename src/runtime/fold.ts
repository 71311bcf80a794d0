import type { BatchNormSpec, LinearSpec } from '../spec.js';

/** A linear layer's parameters after folding, in float64, PyTorch's [out, in] layout. */
export interface FoldedLinear {
  name: string;
  inFeatures: number;
  outFeatures: number;
  weight: Float64Array;
  bias: Float64Array;
}

/**
 * Folds an eval-mode BatchNorm1d into the linear layer before it:
 *   s = γ / √(σ² + ε),   W' = W · s (per output row),   b' = (b − μ) · s + β.
 * Done in float64 so the only rounding is the final f32 upload.
 */
export function foldBatchNorm(linear: LinearSpec, bn: BatchNormSpec | null): FoldedLinear {
  const { inFeatures: k, outFeatures: n } = linear;
  const weight = Float64Array.from(linear.weight);
  const bias = linear.bias ? Float64Array.from(linear.bias) : new Float64Array(n);
  if (bn) {
    for (let o = 0; o < n; o++) {
      const scale = (bn.weight ? bn.weight[o]! : 1) / Math.sqrt(bn.runningVar[o]! + bn.eps);
      for (let i = 0; i < k; i++) weight[o * k + i]! *= scale;
      bias[o] = (bias[o]! - bn.runningMean[o]!) * scale + (bn.bias ? bn.bias[o]! : 0);
    }
  }
  return { name: linear.name, inFeatures: k, outFeatures: n, weight, bias };
}
