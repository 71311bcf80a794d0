import { GraphError } from '../../errors.js';
import { DEFAULT_NORM_EPS, rowSize, type FloatArray, type OpNode } from '../op-graph.js';
import { attr, channels, isEps, onlyAttrs, type NodeKind } from './kind.js';

/**
 * Eval-mode BatchNorm1d (and BatchNorm2d over channels): (x − running_mean) / √(running_var + eps)
 * · weight + bias, per channel. weight and bias are absent together when affine=False.
 */
export const batchnorm: NodeKind = {
  op: 'batchnorm',
  title: 'BatchNorm',
  arity: 1,
  params: { required: ['running_mean', 'running_var'], optional: ['weight', 'bias'] },
  attrs(raw) {
    onlyAttrs(raw, ['eps']);
    return { eps: attr(raw, 'eps', DEFAULT_NORM_EPS, isEps, 'a non-negative number') };
  },
  shapes(q) {
    const c = channels(q.inputs[0]!);
    if (('weight' in q.tensors) !== ('bias' in q.tensors)) {
      throw new GraphError(`${q.where} has a ${'weight' in q.tensors ? 'weight' : 'bias'} but no ${'weight' in q.tensors ? 'bias' : 'weight'}; an affine BatchNorm has both (affine=False: neither).`);
    }
    const why = `a BatchNorm over ${c} channels`;
    const per = { shape: [c], why };
    return { output: [...q.inputs[0]!], params: { running_mean: per, running_var: per, weight: per, bias: per } };
  },
  reference(node, [x], rows, [shape]) {
    const bn = batchNormOf(node);
    const c = shape![0]!;
    const plane = rowSize(shape!) / c;
    const y = new Float64Array(x!.length);
    for (let r = 0; r < rows; r++) {
      for (let ch = 0; ch < c; ch++) {
        const s = Math.sqrt(bn.runningVar[ch]! + bn.eps);
        const g = bn.weight ? bn.weight[ch]! : 1;
        const b = bn.bias ? bn.bias[ch]! : 0;
        for (let p = 0, i = (r * c + ch) * plane; p < plane; p++, i++) y[i] = ((x![i]! - bn.runningMean[ch]!) / s) * g + b;
      }
    }
    return y;
  },
  describe: () => 'batchnorm',
};

export interface BatchNormData {
  name: string;
  features: number;
  /** gamma; null when affine=False (then gamma = 1). */
  weight: FloatArray | null;
  /** beta; null when affine=False (then beta = 0). */
  bias: FloatArray | null;
  runningMean: FloatArray;
  runningVar: FloatArray;
  eps: number;
}

/** A batchnorm node's tensors, typed. */
export function batchNormOf(node: OpNode): BatchNormData {
  const t = node.tensors;
  return {
    name: node.name,
    features: node.shapes.running_mean![0]!,
    weight: t.weight ?? null,
    bias: t.bias ?? null,
    runningMean: t.running_mean!,
    runningVar: t.running_var!,
    eps: node.attrs.eps as number,
  };
}

/** The BatchNorm as a per-channel affine map, in float64: y = x · scale + shift. */
export function batchNormAffine(bn: BatchNormData): { scale: Float64Array; shift: Float64Array } {
  const scale = new Float64Array(bn.features);
  const shift = new Float64Array(bn.features);
  for (let c = 0; c < bn.features; c++) {
    scale[c] = (bn.weight ? bn.weight[c]! : 1) / Math.sqrt(bn.runningVar[c]! + bn.eps);
    shift[c] = (bn.bias ? bn.bias[c]! : 0) - bn.runningMean[c]! * scale[c]!;
  }
  return { scale, shift };
}
