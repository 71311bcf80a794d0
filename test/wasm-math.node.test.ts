import { afterAll, beforeAll, expect, test } from 'vitest';
import { erf64 } from './helpers/activations64.js';
import { kernelHarness, type KernelHarness } from './helpers/wasm-kernels.js';

/**
 * The vector math behind the epilogue's activations (src/runtime/wasm/epilogue.wat: exp, erf,
 * tanh) against float64, over every multiple of 1e-4 in [−10, 10] (as f32) and the extremes.
 * The bounds checked are the ones epilogue.wat states; the measured maxima are printed.
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
