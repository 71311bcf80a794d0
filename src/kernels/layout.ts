import type { FloatArray } from '../spec.js';
import { GEMM_TILE_COLS, GEMM_TILE_ROWS } from './gemm.js';

/**
 * How tensors are laid out in GPU buffers for the gemm kernel: activations are row-major with
 * rows padded to the tile height and widths to the tile width; weights are transposed to
 * [inner, cols] so that an invocation reads its 8 output columns as two vec4 loads.
 */

export function padRows(rows: number): number {
  return Math.ceil(rows / GEMM_TILE_ROWS) * GEMM_TILE_ROWS;
}

export function padFeatures(features: number): number {
  return Math.ceil(features / GEMM_TILE_COLS) * GEMM_TILE_COLS;
}

/** A weight in PyTorch's [out, in] layout, optionally scaled per output row (a folded BatchNorm). */
export interface DenseWeight {
  weight: FloatArray;
  inFeatures: number;
  rowScale?: Float64Array;
}

/** Floats packTransposed writes for parts of these input widths. */
export function packedWeightLength(inFeatures: readonly number[], outFeatures: number): number {
  return inFeatures.reduce((n, k) => n + padFeatures(k), 0) * padFeatures(outFeatures);
}

/**
 * Writes the parts' weights (times their row scales) transposed and stacked along the inner
 * dimension, zero padded, into `out` (length packedWeightLength): [pad(in₀) + pad(in₁) + …, pad(out)].
 */
export function packTransposed(parts: readonly DenseWeight[], outFeatures: number, out: Float32Array): void {
  const cols = padFeatures(outFeatures);
  out.fill(0);
  let row0 = 0;
  for (const { weight, inFeatures, rowScale } of parts) {
    for (let o = 0; o < outFeatures; o++) {
      const s = rowScale ? rowScale[o]! : 1;
      for (let i = 0; i < inFeatures; i++) out[(row0 + i) * cols + o] = weight[o * inFeatures + i]! * s;
    }
    row0 += padFeatures(inFeatures);
  }
}

/** [rows, width] → [padRows(rows), padFeatures(width)], zero padded. Returns x itself when already aligned. */
export function padActivations(x: Float32Array<ArrayBuffer>, rows: number, width: number): Float32Array<ArrayBuffer> {
  const stride = padFeatures(width);
  if (stride === width && padRows(rows) === rows) return x;
  const out = new Float32Array(padRows(rows) * stride);
  for (let r = 0; r < rows; r++) out.set(x.subarray(r * width, (r + 1) * width), r * stride);
  return out;
}

/** The inverse of padActivations: the first `rows` rows, each cut to `width`. */
export function unpadActivations(y: Float32Array, rows: number, width: number): Float32Array {
  const stride = padFeatures(width);
  if (stride === width) return y.slice(0, rows * width);
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(y.subarray(r * stride, r * stride + width), r * width);
  return out;
}
