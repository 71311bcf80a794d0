import { decodeNumbers } from '../../src/loader/dtype.js';
import type { GraphManifestV2, ManifestNode } from '../../src/loader/manifest-v2.js';
import type { TensorMap } from '../../src/loader/tensors.js';

/**
 * A test-only float64 interpreter of manifest version 2, written from docs/MODEL-FORMAT.md and
 * nothing else: node by node, row by row, no fusion. It checks what an importer wrote, so it
 * is kept obvious rather than fast. `x` is `rows` rows of the input width.
 */
export function forwardV2(m: GraphManifestV2, tensors: TensorMap, x: readonly number[], rows: number): number[] {
  const values = new Map<string, number[][]>();
  const width = m.inputs[0].shape[0]!;
  values.set(m.inputs[0].name, Array.from({ length: rows }, (_, r) => x.slice(r * width, (r + 1) * width)));
  for (const n of m.nodes) {
    const input = values.get(n.inputs[0]!)!;
    values.set(n.output, input.map((row, r) => apply(n, row, values.get(n.inputs[1] ?? '')?.[r], tensors)));
  }
  return values.get(m.outputs[0])!.flat();
}

function param(n: ManifestNode, role: string, tensors: TensorMap): number[] | null {
  const name = n.params?.[role];
  if (!name) return null;
  const t = tensors.get(name)!;
  return [...decodeNumbers(t.dtype, t.bytes, name)];
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

function apply(n: ManifestNode, x: number[], other: number[] | undefined, tensors: TensorMap): number[] {
  const p = (role: string) => param(n, role, tensors);
  const eps = Number(n.attrs?.eps ?? 1e-5);
  switch (n.op) {
    case 'linear': {
      const w = p('weight')!;
      const b = p('bias');
      const out = w.length / x.length;
      return Array.from({ length: out }, (_, o) => x.reduce((s, xi, i) => s + w[o * x.length + i]! * xi, b?.[o] ?? 0));
    }
    case 'batchnorm': {
      const [w, b, m, v] = [p('weight'), p('bias'), p('running_mean')!, p('running_var')!];
      return x.map((xi, c) => ((xi - m[c]!) / Math.sqrt(v[c]! + eps)) * (w?.[c] ?? 1) + (b?.[c] ?? 0));
    }
    case 'layernorm': {
      const [w, b] = [p('weight'), p('bias')];
      const mu = mean(x);
      const variance = mean(x.map((xi) => (xi - mu) ** 2));
      return x.map((xi, c) => ((xi - mu) / Math.sqrt(variance + eps)) * (w?.[c] ?? 1) + (b?.[c] ?? 0));
    }
    case 'activation':
      return x.map((xi) => activation(n, xi));
    case 'add':
      return x.map((xi, i) => xi + other![i]!);
    case 'identity':
    case 'dropout':
    case 'flatten':
      return x;
    default:
      throw new Error(`forwardV2: unknown op ${n.op}`);
  }
}

function activation(n: ManifestNode, x: number): number {
  switch (n.attrs?.fn) {
    case 'relu':
      return Math.max(0, x);
    case 'leaky_relu':
      return x >= 0 ? x : x * Number(n.attrs.negative_slope ?? 0.01);
    case 'sigmoid':
      return 1 / (1 + Math.exp(-x));
    case 'tanh':
      return Math.tanh(x);
    case 'silu':
      return x / (1 + Math.exp(-x));
    case 'gelu':
      return n.attrs.approximate === 'tanh'
        ? 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)))
        : 0.5 * x * (1 + erf(x / Math.SQRT2));
    default:
      throw new Error(`forwardV2: unknown activation ${String(n.attrs?.fn)}`);
  }
}

/**
 * erf to float64 precision: its Maclaurin series for |x| < 3 (alternating, terms shrink fast
 * enough that the sum keeps ~1e-15 absolute accuracy there), the continued fraction of erfc
 * beyond. JavaScript has no Math.erf.
 */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (a < 3) {
    let term = x;
    let sum = x;
    for (let k = 1; k < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); k++) {
      term *= (-x * x) / k;
      sum += term / (2 * k + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(a) = exp(−a²)/√π · 1/(a + 1/2/(a + 1/(a + 3/2/(a + …)))), evaluated from the tail.
  let f = a;
  for (let k = 60; k >= 1; k--) f = a + k / 2 / f;
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}
