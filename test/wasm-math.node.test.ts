import { afterAll, beforeAll, expect, test } from 'vitest';
import type { ActivationFn } from '../src/graph/steps.js';
import { ACTIVATIONS, erf as erf64 } from '../src/graph/kinds/activation.js';
import { kernelHarness, type KernelHarness } from './helpers/wasm-kernels.js';

/**
 * The vector math behind the epilogue's activations (src/runtime/wasm/epilogue.wat: exp, erf,
 * tanh) against float64, over every multiple of 1e-4 in [−10, 10] (as f32) and the extremes.
 * The bounds checked are the ones epilogue.wat states; the measured maxima are printed. Then the
 * activations on NaN, ±inf, ±0 and other edges against what PyTorch 1.13 returns on the CPU.
 */
let h: KernelHarness;
beforeAll(async () => {
  h = await kernelHarness(1);
});
afterAll(() => h.close());

const EXP = 0;
const ERF = 1;
const TANH = 2;

function apply(fn: number, xs: Float32Array): Float32Array {
  h.reset();
  const count = Math.ceil(xs.length / 4) * 4;
  const src = h.alloc(count);
  const dst = h.alloc(count);
  h.write(src, xs);
  h.exports.vector_math(fn, src, dst, count);
  return h.read(dst, xs.length);
}

/** Every multiple of 1e-4 in [−10, 10], rounded to f32, then `extra`. */
function sweep(extra: number[] = []): Float32Array {
  const xs = Array.from({ length: 200_001 }, (_, i) => (i - 100_000) * 1e-4);
  return Float32Array.from([...xs, ...extra]);
}

/** Units in the last place of f32 between y and the exact r: 2^(e−23) for |r| in [2^e, 2^(e+1)), normal r. */
function ulps(y: number, r: number): number {
  const e = Math.floor(Math.log2(Math.max(Math.abs(r), 2 ** -126)));
  return Math.abs(y - r) / 2 ** (e - 23);
}

const linspace = (a: number, b: number, n: number) => Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));

test('exp: at most 1 ulp over [−87.3, 88.7] (normal results), one rounding in the subnormal range, and the limits', () => {
  const xs = sweep(linspace(-87.3, 88.72, 400_000));
  const ys = apply(EXP, xs);
  let worst = 0;
  for (let i = 0; i < xs.length; i++) worst = Math.max(worst, ulps(ys[i]!, Math.exp(xs[i]!)));
  console.log(`exp: max error ${worst.toFixed(3)} ulp over ${xs.length} points`);
  expect(worst).toBeLessThanOrEqual(1);
  // Subnormal results (x below −87.34): within one subnormal step (2^−149) of the exact value.
  const low = Float32Array.from(linspace(-103.97, -87.34, 100_000));
  const yl = apply(EXP, low);
  let worstLow = 0;
  for (let i = 0; i < low.length; i++) worstLow = Math.max(worstLow, Math.abs(yl[i]! - Math.exp(low[i]!)) / 2 ** -149);
  console.log(`exp: subnormal results within ${worstLow.toFixed(3)} × 2^-149`);
  expect(worstLow).toBeLessThanOrEqual(1);
  const limits = apply(EXP, Float32Array.from([88.72, 88.8, 89, 1000, Infinity, -104, -1000, -Infinity, NaN, 0, -0]));
  expect(limits[0]).toBeCloseTo(Math.fround(Math.exp(Math.fround(88.72))), -32);
  expect(Array.from(limits.subarray(1))).toEqual([Infinity, Infinity, Infinity, Infinity, 0, 0, 0, NaN, 1, 1]);
});

test('erf: at most 1e-7 absolute error (8.2e-8 measured when written), odd, ±1 from 3.92, NaN stays NaN', () => {
  const xs = sweep([1 - 2 ** -24, 1, 1 + 2 ** -23, 3.919206, 3.9192, 1e-30, -1e-30, 1e-45, 20, -20, 1e30]);
  const ys = apply(ERF, xs);
  let worst = 0;
  let at = 0;
  for (let i = 0; i < xs.length; i++) {
    const err = Math.abs(ys[i]! - erf64(xs[i]!));
    if (err > worst) [worst, at] = [err, xs[i]!];
  }
  console.log(`erf: max absolute error ${worst.toExponential(3)} (at ${at}) over ${xs.length} points`);
  expect(worst).toBeLessThanOrEqual(1e-7);
  const special = apply(ERF, Float32Array.from([Infinity, -Infinity, NaN, 0, -0, 4, -4]));
  expect(Array.from(special)).toEqual([1, -1, NaN, 0, -0, 1, -1]);
  expect(Object.is(special[4], -0)).toBe(true);
});

test('tanh: at most 1.5 ulp and 1e-7 absolute error, odd, ±1 at ±inf, subnormals kept, NaN stays NaN', () => {
  const xs = sweep([...linspace(-0.01, 0.01, 20_001), 0.625, 0.62499994, 1e-30, -1e-30, 20, -20, 100]);
  const ys = apply(TANH, xs);
  let [worstUlp, worstAbs] = [0, 0];
  for (let i = 0; i < xs.length; i++) {
    const r = Math.tanh(xs[i]!);
    worstUlp = Math.max(worstUlp, ulps(ys[i]!, r));
    worstAbs = Math.max(worstAbs, Math.abs(ys[i]! - r));
  }
  console.log(`tanh: max error ${worstUlp.toFixed(3)} ulp, ${worstAbs.toExponential(3)} absolute over ${xs.length} points`);
  expect(worstUlp).toBeLessThanOrEqual(1.5);
  expect(worstAbs).toBeLessThanOrEqual(1e-7);
  const special = apply(TANH, Float32Array.from([Infinity, -Infinity, NaN, 0, -0, 1e-45, -1e-45, 10, -10]));
  expect(Array.from(special)).toEqual([1, -1, NaN, 0, -0, Math.fround(1e-45), -Math.fround(1e-45), 1, -1]);
  expect(Object.is(special[4], -0)).toBe(true);
});

/**
 * What PyTorch 1.13 (CPU, its vectorized AVX2 kernels: any tensor of 8 floats or more) returns
 * for each activation at these inputs, recorded with torch.nn.functional (leaky_relu with slope
 * 0.01). NaN and infinities must match exactly, zeros with their sign; finite values within
 * 2e-7 · max(1, |x|) (GELU(−5) is a cancellation, h + h·erf, in PyTorch too: its −1.4901e-6 is
 * 5.7e-8 from the exact −1.4333e-6). PyTorch's scalar path (tensors under 8 floats) differs in the
 * sign of GELU's zeros (−0 at −0 and −100): we follow the vectorized one.
 */
const EDGES = [-Infinity, Infinity, NaN, -0, 0, -100, -88, -20, 100, -5, 1e-30, -1e-30, -1e-45];
const PYTORCH: Record<Exclude<ActivationFn, 'none'>, number[]> = {
  relu: [0, Infinity, NaN, -0, 0, 0, 0, 0, 100, 0, 1.0000000031710769e-30, 0, 0],
  leaky_relu: [-Infinity, Infinity, NaN, -0, 0, -1, -0.8799999952316284, -0.19999998807907104, 100, -0.04999999701976776, 1.0000000031710769e-30, -9.99999950273831e-33, -0],
  gelu: [NaN, Infinity, NaN, 0, 0, 0, 0, 0, 100, -1.4901161193847656e-6, 5.000000015855384e-31, -5.000000015855384e-31, 0],
  gelu_tanh: [NaN, Infinity, NaN, -0, 0, -0, -0, -0, 100, -2.980232238769531e-7, 5.000000015855384e-31, -5.000000015855384e-31, -0],
  silu: [NaN, Infinity, NaN, -0, 0, -0, -5.328049755387946e-37, -4.1223074731533416e-8, 100, -0.033464252948760986, 5.000000015855384e-31, -5.000000015855384e-31, -0],
  sigmoid: [0, 1, NaN, 0.5, 0.5, 0, 6.054601485195952e-39, 2.06115369216775e-9, 1, 0.006692850962281227, 0.5, 0.5, 0.5],
  tanh: [-1, 1, NaN, -0, 0, -1, -1, -1, 1, -0.9999092221260071, 1.0000000031710769e-30, -1.0000000031710769e-30, -1.401298464324817e-45],
};

test.each(Object.keys(PYTORCH) as (keyof typeof PYTORCH)[])('%s on NaN, ±inf, ±0, subnormals and saturating inputs, as PyTorch 1.13', async (activation) => {
  h.reset();
  const width = EDGES.length;
  const [a, e, out] = [h.alloc(16), h.alloc(48), h.alloc(16)];
  h.write(a, EDGES);
  // No bias is a bias of −0, the one addend that leaves every float as it is (−0 + +0 would be +0).
  h.write(e, new Float32Array(8).fill(-0));
  const d = { kind: 'elementwise', rows: 1, panels: 2, columns: width, a, lda: 64, k1: 0, x: 0, ldx: 0, k2: 0, w: 0, e, out, ldo: 64 } as const;
  await h.run([{ ...d, splitPanels: false, identity: false, affine: false, activation, slope: 0.01, eps: 0 }]);
  const y = h.read(out, width);
  const wrong = EDGES.flatMap((x, i) => {
    const [got, want] = [y[i]!, PYTORCH[activation][i]!];
    const ok = Number.isFinite(want) && want !== 0 ? Math.abs(got - want) <= 2e-7 * Math.max(1, Math.abs(x)) : Object.is(got, want);
    return ok ? [] : [`${activation}(${Object.is(x, -0) ? '-0' : x}) = ${Object.is(got, -0) ? '-0' : got}, PyTorch: ${Object.is(want, -0) ? '-0' : want}`];
  });
  expect(wrong).toEqual([]);
});

test('layernorm: a row holding ±inf or NaN is NaN throughout, a constant row gives β, as PyTorch', async () => {
  h.reset();
  const rows = [[1, Infinity, 2], [1, NaN, 2], [Infinity, -Infinity, 0], [3, 3, 3], [-Infinity, 1, 1]];
  const [a, g, e, out] = [h.alloc(8 * rows.length), h.alloc(8), h.alloc(24), h.alloc(8 * rows.length)];
  rows.forEach((r, i) => h.write(a + i * 32, r));
  h.write(g, [1, 2, 3]);
  h.write(e, [0.5, 0, -1]); // β
  const d = { kind: 'layernorm', rows: rows.length, panels: 1, columns: 3, a, lda: 32, k1: 3, x: 0, ldx: 0, k2: 0, w: g, e, out, ldo: 32 } as const;
  await h.run([{ ...d, splitPanels: false, identity: false, affine: false, activation: 'none', slope: 0, eps: 1e-5 }]);
  const y = Array.from({ length: rows.length }, (_, i) => Array.from(h.read(out + i * 32, 3)));
  expect(y).toEqual([[NaN, NaN, NaN], [NaN, NaN, NaN], [NaN, NaN, NaN], [0.5, 0, -1], [NaN, NaN, NaN]]);
});

/**
 * Each activation as the epilogue computes it (an elementwise step) over the same sweep, against
 * float64: at most 4 ulp of the exact value, except GELU. GELU's h + h·erf(x/√2) cancels for
 * x < −1 (as in PyTorch's own kernel), so its bound is absolute: erf's 8.2e-8, the rounding of
 * x/√2 and of the product and sum, each times |x|/2, under 1e-7·|x|. The tanh GELU's reference is
 * x / (1 + e^(−2w)), its exact value without the cancellation of 0.5·x·(1 + tanh(w)) that float64
 * suffers too (1 + tanh(w) is 0 in float64 from w = 19, x ≈ −5.4; PyTorch's f32 kernel returns 0
 * from x ≈ −5.6 and is 30 % off at −5). Its relative error grows with |2w|, which f32 holds to 4
 * roundings: 4·2⁻²⁴·|2w| relative more (e^(2w) turns an absolute error of 2w into a relative one),
 * 189 ulp at x = −10, where the value is −4e-37. Measured maxima are printed.
 */
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const exactly = (activation: keyof typeof ACTIVATIONS, x: number) =>
  activation === 'gelu_tanh' ? x / (1 + Math.exp(-2 * SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))) : ACTIVATIONS[activation](x, 0.01);

test.each(['leaky_relu', 'gelu', 'gelu_tanh', 'silu', 'sigmoid', 'tanh'] as const)('%s over the sweep, against float64', async (activation) => {
  h.reset();
  const xs = sweep();
  const count = Math.ceil(xs.length / 8) * 8;
  const [a, e, out] = [h.alloc(count), h.alloc((count / 8) * 24), h.alloc(count)];
  h.write(a, xs);
  const d = { kind: 'elementwise', rows: 1, panels: count / 8, columns: xs.length, a, lda: count * 4, k1: 0, x: 0, ldx: 0, k2: 0, w: 0, e, out, ldo: count * 4 } as const;
  await h.run([{ ...d, splitPanels: false, identity: false, affine: false, activation, slope: 0.01, eps: 0 }]);
  const ys = h.read(out, xs.length);
  let [worstUlp, worstAbs, over] = [0, 0, 0];
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    const r = exactly(activation, x);
    const err = Math.abs(ys[i]! - r);
    worstAbs = Math.max(worstAbs, err);
    worstUlp = Math.max(worstUlp, ulps(ys[i]!, r));
    const twoW = 2 * SQRT_2_OVER_PI * Math.abs(x + 0.044715 * x * x * x);
    const bound =
      4 * 2 ** (Math.floor(Math.log2(Math.max(Math.abs(r), 2 ** -126))) - 23) +
      (activation === 'gelu' ? 1e-7 * Math.abs(x) : 0) +
      (activation === 'gelu_tanh' ? 4 * 2 ** -24 * twoW * Math.abs(r) : 0);
    if (err > bound) over++;
  }
  console.log(`${activation}: max error ${worstUlp.toFixed(2)} ulp, ${worstAbs.toExponential(2)} absolute over ${xs.length} points`);
  expect(over).toBe(0);
});
