import type { BatchNormSpec, LayerSpec, LinearSpec, ModelSpec } from '../../graph/spec.js';

/**
 * The CPU reference: the model's math done the plain way, one op at a time, in float64, with
 * BatchNorm applied from its running statistics rather than folded. It is the oracle the GPU
 * kernels are tested against and the baseline the benchmarks compare with, so it stays
 * unfused and obvious; speed is not its job.
 */

/** y[rows, out] = x[rows, in] · Wᵀ + b */
export function linearForward(x: Float64Array, rows: number, linear: LinearSpec): Float64Array {
  const { inFeatures: k, outFeatures: n, weight, bias } = linear;
  const y = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < n; o++) {
      let sum = bias ? bias[o]! : 0;
      for (let i = 0; i < k; i++) sum += x[r * k + i]! * weight[o * k + i]!;
      y[r * n + o] = sum;
    }
  }
  return y;
}

/** Eval-mode BatchNorm1d, in place: (y − mean) / √(var + eps) · γ + β. */
export function batchNormForward(y: Float64Array, rows: number, bn: BatchNormSpec): Float64Array {
  const n = bn.features;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < n; c++) {
      const normalized = (y[r * n + c]! - bn.runningMean[c]!) / Math.sqrt(bn.runningVar[c]! + bn.eps);
      y[r * n + c] = normalized * (bn.weight ? bn.weight[c]! : 1) + (bn.bias ? bn.bias[c]! : 0);
    }
  }
  return y;
}

export function reluInPlace(y: Float64Array): Float64Array {
  for (let i = 0; i < y.length; i++) if (y[i]! < 0) y[i] = 0;
  return y;
}

function linearThenBatchNorm(x: Float64Array, rows: number, linear: LinearSpec, bn: BatchNormSpec | null) {
  const y = linearForward(x, rows, linear);
  return bn ? batchNormForward(y, rows, bn) : y;
}

export function layerForward(x: Float64Array, rows: number, layer: LayerSpec): Float64Array {
  if (layer.type === 'linear') {
    const y = linearThenBatchNorm(x, rows, layer.linear, layer.bn);
    return layer.activation === 'relu' ? reluInPlace(y) : y;
  }
  const h = reluInPlace(linearThenBatchNorm(x, rows, layer.linear1, layer.bn1));
  const y = linearThenBatchNorm(h, rows, layer.linear2, layer.bn2);
  const s = layer.shortcut ? linearThenBatchNorm(x, rows, layer.shortcut.linear, layer.shortcut.bn) : x;
  for (let i = 0; i < y.length; i++) y[i]! += s[i]!;
  return reluInPlace(y);
}

/** Runs the whole model on a batch; the result is float64, rows × outputSize. */
export function referenceForward(spec: ModelSpec, x: ArrayLike<number>, rows: number): Float64Array {
  let h: Float64Array = Float64Array.from(x);
  for (const layer of spec.layers) h = layerForward(h, rows, layer);
  return h;
}
