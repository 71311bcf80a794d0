import type { ActivationFn } from '../../src/graph/steps.js';

/**
 * The activations of src/graph/steps.ts in float64, as PyTorch defines them, for checking the
 * kernels. erf has no Math function: erf64 sums erf(x) = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)),
 * a series of positive terms (no cancellation), to about 1e-16 relative; from |x| = 6, erf is ±1
 * in float64 (erfc(6) ≈ 2e-17). Checked against Python's math.erf at 1e-4 steps on [−6, 6]:
 * at most 2.4e-15 apart.
 */
export function erf64(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a >= 6) return Math.sign(x);
  let term = a;
  let sum = a;
  const twoA2 = 2 * a * a;
  for (let n = 1; term > 1e-17 * sum; n++) {
    term *= twoA2 / (2 * n + 1);
    sum += term;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a) * sum;
}

export function activate64(fn: ActivationFn, v: number, slope: number): number {
  switch (fn) {
    case 'none':
      return v;
    case 'relu':
      return v < 0 ? 0 : v;
    case 'leaky_relu':
      return v < 0 ? v * slope : v;
    case 'gelu':
      return 0.5 * v * (1 + erf64(v / Math.SQRT2));
    case 'gelu_tanh':
      return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
    case 'silu':
      return v / (1 + Math.exp(-v));
    case 'sigmoid':
      return 1 / (1 + Math.exp(-v));
    case 'tanh':
      return Math.tanh(v);
  }
}

export const ACTIVATIONS: ActivationFn[] = ['none', 'relu', 'leaky_relu', 'gelu', 'gelu_tanh', 'silu', 'sigmoid', 'tanh'];
