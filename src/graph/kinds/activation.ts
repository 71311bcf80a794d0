import type { ActivationFn } from '../steps.js';
import type { AttrValue } from '../op-graph.js';
import { attr, onlyAttrs, type NodeKind } from './kind.js';

/**
 * Elementwise activations, as PyTorch defines them (formulas chosen so that NaN and ±Inf come
 * out as PyTorch's do: relu keeps NaN; gelu(−∞), silu(−∞) are NaN, x · 0 there; tanh(±∞) = ±1).
 * attrs.fn: relu, leaky_relu (negative_slope, default 0.01), gelu (approximate: 'none' or
 * 'tanh'), silu, sigmoid, tanh.
 */
const FNS = ['relu', 'leaky_relu', 'gelu', 'silu', 'sigmoid', 'tanh'] as const;

export const activation: NodeKind = {
  op: 'activation',
  title: 'Activation',
  arity: 1,
  params: { required: [], optional: [] },
  attrs(raw) {
    onlyAttrs(raw, ['fn', 'negative_slope', 'approximate']);
    const fn: string = attr(raw, 'fn', '', (v) => (FNS as readonly unknown[]).includes(v), `one of ${FNS.join(', ')}`);
    if (fn === '') throw new Error(`attrs.fn is required (one of ${FNS.join(', ')})`);
    if (fn !== 'leaky_relu' && raw.negative_slope !== undefined) throw new Error('attrs.negative_slope belongs to leaky_relu only');
    if (fn !== 'gelu' && raw.approximate !== undefined) throw new Error('attrs.approximate belongs to gelu only');
    const slope = attr(raw, 'negative_slope', 0.01, (v) => typeof v === 'number' && Number.isFinite(v), 'a finite number');
    const approximate = attr(raw, 'approximate', 'none', (v) => v === 'none' || v === 'tanh', '"none" or "tanh"');
    const out: Record<string, AttrValue> = { fn };
    if (fn === 'leaky_relu') out.negative_slope = slope;
    if (fn === 'gelu') out.approximate = approximate;
    return out;
  },
  shapes: (q) => ({ output: [...q.inputs[0]!], params: {} }),
  reference(node, [x]) {
    const { fn, slope } = activationOf(node.attrs);
    const f = ACTIVATIONS[fn];
    return x!.map((v) => f(v, slope));
  },
  describe(node) {
    const { fn, slope } = activationOf(node.attrs);
    return fn === 'leaky_relu' ? `leaky_relu(${slope})` : fn;
  },
};

/** The activation of an activation node, as a step's epilogue names it. */
export function activationOf(attrs: Readonly<Record<string, unknown>>): { fn: Exclude<ActivationFn, 'none'>; slope: number } {
  const fn = attrs.fn as (typeof FNS)[number];
  if (fn === 'gelu') return { fn: attrs.approximate === 'tanh' ? 'gelu_tanh' : 'gelu', slope: 0 };
  return { fn, slope: fn === 'leaky_relu' ? (attrs.negative_slope as number) : 0 };
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Each activation in float64: the reference, and the oracle of the kernels' approximations. */
export const ACTIVATIONS: Record<ActivationFn, (x: number, slope: number) => number> = {
  none: (x) => x,
  relu: (x) => (x < 0 ? 0 : x),
  leaky_relu: (x, slope) => (x < 0 ? x * slope : x),
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  gelu_tanh: (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))),
  silu: (x) => x / (1 + Math.exp(-x)),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  tanh: (x) => Math.tanh(x),
};

/**
 * erf in float64 (JavaScript has none): erf(x) = 2/√π · e^(−x²) · Σ (2x²)ⁿ x / (1·3·…·(2n+1)),
 * a series of positive terms (no cancellation), summed until a term no longer changes the sum;
 * |x| ≥ 6 gives ±1 (erfc(6) ≈ 2e-17). Accurate to a few units of the last place: the oracle
 * against which the kernels' f32 approximations are measured.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return x;
  if (Math.abs(x) >= 6) return Math.sign(x);
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 500; n++) {
    term *= (2 * x2) / (2 * n + 1);
    const next = sum + term;
    if (next === sum) break;
    sum = next;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
}
