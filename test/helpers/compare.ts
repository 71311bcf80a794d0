import { expect } from 'vitest';

/**
 * The tolerance for WebGPU (f32, BatchNorm folded into the weights) against the CPU
 * reference (f64, BatchNorm applied separately): |gpu − ref| ≤ 1e-4 · max(1, |ref|).
 * Why 1e-4: an f32 dot product of length K has relative error around √K · 2⁻²⁴ (about 2e-6
 * for K = 1000) and at worst K · 2⁻²⁴ (6e-5); errors compound mildly over a few layers; we
 * observe well under 1e-5. A wrong index, stride or padding gives errors of order 1, so the
 * check still fails on any real bug.
 */
export const GPU_TOLERANCE = 1e-4;

/**
 * precision: 'f16' against PyTorch's f32 model: |gpu − ref| ≤ 4e-3 · max(1, |ref|).
 * Why: each folded weight is rounded to f16, a relative error of at most 2⁻¹¹ ≈ 4.9e-4, so a
 * layer's output moves by at most 2⁻¹¹ · Σ|w·x|; ReLU and residual adds pass errors on at most
 * unchanged, so over a network the bound is 2⁻¹¹ times the sum over layers of Σ|w·x| relative
 * to the output scale. For the test models (up to 8 blocks, Σ|w·x| within a few times |y|) that
 * is under 8 · 2⁻¹¹ ≈ 3.9e-3; observed: at most 5.9e-4 (the test/python/make_torch_cases.py models).
 * Against the reference on the same rounded weights (helpers/half-reference.ts) the usual
 * GPU_TOLERANCE holds.
 */
export const F16_TOLERANCE = 4e-3;

export function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const err = Math.abs(actual[i]! - e) / Math.max(1, Math.abs(e));
    worst = Number.isNaN(err) ? Infinity : Math.max(worst, err);
  }
  return worst;
}

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = GPU_TOLERANCE): void {
  expect(actual.length).toBe(expected.length);
  expect(maxRelativeError(actual, expected)).toBeLessThanOrEqual(tolerance);
}

/** A number as the Python generators write JSON: a number, or the strings 'nan', 'inf', '-inf'. */
export const pyNumber = (v: number | string): number => (typeof v === 'number' ? v : Number(v.replace('inf', 'Infinity')));

/** A row of such numbers as float32, as run() takes it. */
export const pyFloats = (v: (number | string)[]): Float32Array => Float32Array.from(v, pyNumber);

/** |y − PyTorch| over the output's scale (its largest magnitude, at least 1). */
export function scaledError(y: ArrayLike<number>, expected: number[]): number {
  const scale = Math.max(1, ...expected.map(Math.abs));
  return maxRelativeError(Array.from(y, (v) => v / scale), expected.map((v) => v / scale));
}
