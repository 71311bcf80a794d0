import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { ActivationFn, StepKind } from '../src/graph/steps.js';
import { EPILOGUE_PANEL_BYTES, type StepDescriptor } from '../src/runtime/wasm/descriptor.js';
import { ACTIVATIONS } from '../src/graph/kinds/activation.js';
import { kernelHarness, type KernelHarness } from './helpers/wasm-kernels.js';

/**
 * The module's three step kinds (gemm, layernorm, elementwise) × the eight activations × residual
 * (none, identity, and for gemm a projection) × affine, at widths 1, 3, 37, 255 and 1, 2, 5, 17
 * rows, on 1 and 2 threads (threads splitting rows or panels), on descriptors written by hand,
 * against a float64 computation of steps.ts's formula. Inputs and residuals carry NaN in their
 * padding and the output NaN everywhere before the run: real columns must all be written from
 * real data, padded columns as exact zeros, and nothing past the last panel.
 *
 * Tolerance, per element, from what f32 does to the formula (u = 2⁻²⁴):
 *   gemm: an f32 sum of K products (plus bias and residual) is within (K + 3)·u·S of the exact one,
 *     S the sum of the terms' magnitudes (Higham's bound, K terms summed in any order);
 *   layernorm: the f32 mean is off by at most (k/8 + 5)·u·mean|x| (8-lane sums, then a division),
 *     rstd by (k/16 + 6)·u relative (variance sum, then sqrt and division); both scale with rstd·|γ|;
 *   elementwise: exact but for 2 roundings (bias, residual);
 *   affine: 2 more roundings; every activation's slope is at most 1.13 (GELU), so errors carry
 *   through multiplied by at most 1.25; the activation's own error is at most 8·u relative plus
 *   2e-7·max(1, |v|) absolute (erf's 8.2e-8 times |v|/2, exp's 1 ulp through a division).
 * The bound is then doubled. Wrong indices, strides, panels or thread shares give errors of order 1.
 */
const U = 2 ** -24;
const WIDTHS = [1, 3, 37, 255];
const ROWS = [1, 2, 5, 17];
const SLOPE = 0.07;
const EPS = 1e-5;
type Residual = 'none' | 'identity' | 'projection';
const pad = (n: number) => Math.ceil(n / 8) * 8;

/** Deterministic values in [−1, 1). */
function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

interface Case {
  kind: StepKind;
  activation: ActivationFn;
  residual: Residual;
  affine: boolean;
  rows: number;
  /** Input width (gemm: K; otherwise = n). */
  k: number;
  n: number;
  /** Projection width (gemm with a projection). */
  k2: number;
  splitPanels: boolean;
  seed: number;
}

/** Row-major f32 values with a row stride wider than the width; padding NaN. */
function matrix(rows: number, width: number, stride: number, next: () => number, rowScale: (r: number) => number): Float32Array {
  const m = new Float32Array(rows * stride).fill(NaN);
  for (let r = 0; r < rows; r++) for (let c = 0; c < width; c++) m[r * stride + c] = next() * rowScale(r);
  return m;
}

async function runCase(h: KernelHarness, c: Case): Promise<void> {
  h.reset();
  const next = random(c.seed);
  const panels = Math.ceil(c.n / 8);
  const [sa, sx, so] = [pad(c.k) + 8, pad(Math.max(c.n, c.k2)) + 16, pad(c.n) + 8]; // row strides (floats)
  const rowScale = (r: number) => [0.5, 1, 4, 20][r % 4]!; // saturating rows too
  const A = matrix(c.rows, c.k, sa, next, rowScale);
  const X = c.residual === 'none' ? null : matrix(c.rows, c.residual === 'identity' ? c.n : c.k2, sx, next, () => 1);
  const W = Float32Array.from({ length: c.n * c.k }, () => next() / Math.sqrt(c.k) * 2);
  const Ws = Float32Array.from({ length: c.n * c.k2 }, () => next() / Math.sqrt(Math.max(1, c.k2)) * 2);
  const gamma = Float32Array.from({ length: c.n }, () => 0.5 + next());
  const vector = () => Float32Array.from({ length: c.n }, () => next());
  const [bias, scale, shift] = [vector(), vector(), vector()];
  // The module's layouts (gemm.wat's header).
  const inner = c.kind === 'gemm' ? c.k + c.k2 : 0;
  const wFloats = c.kind === 'gemm' ? panels * inner * 8 : c.kind === 'layernorm' ? panels * 8 : 0;
  const w = h.alloc(Math.max(1, wFloats));
  const packed = new Float32Array(wFloats);
  if (c.kind === 'gemm') {
    for (let o = 0; o < c.n; o++) {
      const base = Math.floor(o / 8) * inner * 8 + (o % 8);
      for (let i = 0; i < c.k; i++) packed[base + i * 8] = W[o * c.k + i]!;
      for (let i = 0; i < c.k2; i++) packed[base + (c.k + i) * 8] = Ws[o * c.k2 + i]!;
    }
  } else if (c.kind === 'layernorm') packed.set(gamma);
  h.write(w, packed);
  const vectors = new Float32Array(panels * 24);
  for (let o = 0; o < c.n; o++) {
    const at = Math.floor(o / 8) * 24 + (o % 8);
    [vectors[at], vectors[at + 8], vectors[at + 16]] = [bias[o]!, scale[o]!, shift[o]!];
  }
  const e = h.alloc((panels * EPILOGUE_PANEL_BYTES) / 4);
  h.write(e, vectors);
  const a = h.alloc(A.length);
  h.write(a, A);
  const x = X ? h.alloc(X.length) : 0;
  if (X) h.write(x, X);
  const out = h.alloc(c.rows * so);
  h.write(out, new Float32Array(c.rows * so).fill(NaN));
  const d: StepDescriptor = {
    kind: c.kind, rows: c.rows, panels, columns: c.n, a, lda: sa * 4, k1: c.kind === 'elementwise' ? 0 : c.k,
    x, ldx: X ? sx * 4 : 0, k2: c.k2, w: c.kind === 'elementwise' ? 0 : w, e, out, ldo: so * 4,
    splitPanels: c.splitPanels, identity: c.residual === 'identity', affine: c.affine, activation: c.activation, slope: SLOPE, eps: EPS,
  };
  await h.run([d]);
  const y = h.read(out, c.rows * so);

  const wrong: string[] = [];
  for (let r = 0; r < c.rows; r++) {
    const row = A.subarray(r * sa, r * sa + c.k);
    let mean = 0;
    let rstd = 0;
    let meanAbs = 0;
    if (c.kind === 'layernorm') {
      mean = row.reduce((s, v) => s + v, 0) / c.k;
      rstd = 1 / Math.sqrt(row.reduce((s, v) => s + (v - mean) ** 2, 0) / c.k + EPS);
      meanAbs = row.reduce((s, v) => s + Math.abs(v), 0) / c.k;
    }
    for (let o = 0; o < pad(c.n) + 8; o++) {
      const got = y[r * so + o]!;
      if (o >= c.n) {
        const ok = o < pad(c.n) ? Object.is(got, 0) : Number.isNaN(got);
        if (!ok) wrong.push(`row ${r} col ${o}: ${got} (${o < pad(c.n) ? 'padding must be +0' : 'past the panels: must be untouched'})`);
        continue;
      }
      let v: number;
      let err: number; // bound on |f32 v − exact v| before the activation
      if (c.kind === 'gemm') {
        v = bias[o]!;
        let s = Math.abs(v);
        for (let i = 0; i < c.k; i++) (v += row[i]! * W[o * c.k + i]!), (s += Math.abs(row[i]! * W[o * c.k + i]!));
        for (let i = 0; i < c.k2; i++) (v += X![r * sx + i]! * Ws[o * c.k2 + i]!), (s += Math.abs(X![r * sx + i]! * Ws[o * c.k2 + i]!));
        err = (c.k + c.k2 + 3) * U * s;
      } else if (c.kind === 'layernorm') {
        const dev = row[o]! - mean;
        v = dev * rstd * gamma[o]! + bias[o]!;
        err = ((c.k / 8 + 5) * meanAbs + (c.k / 16 + 6) * Math.abs(dev)) * U * rstd * Math.abs(gamma[o]!) + 2 * U * Math.abs(v);
      } else {
        v = row[o]! + bias[o]!;
        err = U * Math.abs(v);
      }
      if (c.residual === 'identity') (v += X![r * sx + o]!), (err += U * Math.abs(v));
      if (c.affine) (err = err * Math.abs(scale[o]!) + 2 * U * Math.abs(v * scale[o]!) + U * Math.abs(shift[o]!)), (v = v * scale[o]! + shift[o]!);
      const ref = ACTIVATIONS[c.activation](v, SLOPE);
      const tol = 2 * (1.25 * err + 8 * U * Math.abs(ref) + (c.activation === 'none' || c.activation === 'relu' || c.activation === 'leaky_relu' ? 0 : 2e-7 * Math.max(1, Math.abs(v))));
      if (!(Math.abs(got - ref) <= tol)) wrong.push(`row ${r} col ${o}: got ${got}, expected ${ref} ± ${tol.toExponential(2)}`);
    }
  }
  expect(wrong.slice(0, 5), `${c.kind} ${c.activation} residual ${c.residual} affine ${c.affine}, ${c.rows}×${c.k}→${c.n}, split ${c.splitPanels ? 'panels' : 'rows'}`).toEqual([]);
}

describe.each([1, 2])('%i thread(s)', (threads) => {
  let h: KernelHarness;
  beforeAll(async () => {
    h = await kernelHarness(threads);
  });
  afterAll(() => h.close());

  const combos: Record<StepKind, [Residual, boolean][]> = {
    gemm: [['none', false], ['identity', false], ['projection', false], ['none', true], ['identity', true], ['projection', true]],
    layernorm: [['none', false], ['identity', false], ['none', true], ['identity', true]],
    elementwise: [['none', false], ['identity', false], ['none', true], ['identity', true]],
  };
  describe.each(['gemm', 'layernorm', 'elementwise'] as StepKind[])('%s', (kind) => {
    test.each(Object.keys(ACTIVATIONS) as ActivationFn[])('%s: every residual × affine combination, widths 1, 3, 37, 255, rows 1, 2, 5, 17', async (activation) => {
      let seed = 1;
      for (const [residual, affine] of combos[kind]) {
        for (const [wi, n] of WIDTHS.entries()) {
          for (const [ri, rows] of ROWS.entries()) {
            // gemm: an inner size other than the output width (and a projection narrower still).
            const k = kind === 'gemm' ? WIDTHS[(wi + 1) % 4]! : n;
            const k2 = residual === 'projection' ? WIDTHS[(wi + 2) % 4]! : 0;
            await runCase(h, { kind, activation, residual, affine, rows, k, n, k2, splitPanels: (wi + ri) % 2 === 1, seed: seed++ });
          }
        }
      }
    });
  });
});
