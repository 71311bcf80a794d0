import { GraphError } from '../../errors.js';
import type { FloatArray, OpNode } from '../op-graph.js';
import { features, onlyAttrs, type NodeKind } from './kind.js';

/** torch.nn.Linear: y = x · Wᵀ + b, weight [out, in] as PyTorch stores it, bias optional. */
export const linear: NodeKind = {
  op: 'linear',
  title: 'Linear',
  arity: 1,
  params: { required: ['weight'], optional: ['bias'] },
  attrs(raw) {
    onlyAttrs(raw, []);
    return {};
  },
  shapes(q) {
    const inF = features(q);
    const w = q.tensors.weight!;
    if (w.length !== 2) throw new GraphError(`${q.where}: its weight has shape [${w.join(', ')}]; a Linear weight is 2-D [out, in].`);
    const out = w[0]!;
    if (out === 0 || inF === 0) {
      // PyTorch accepts Linear(n, 0); its outputs are empty or constant. Refused rather than run on zero-size buffers.
      throw new GraphError(`${q.where} is zero-width (${inF} inputs, ${out} outputs): resgpu refuses degenerate layers. Remove the layer, or give it at least one feature.`);
    }
    return {
      output: [out],
      params: {
        weight: { shape: [out, inF], why: `a Linear fed ${inF} features` },
        bias: { shape: [out], why: `the bias of a Linear with ${out} outputs` },
      },
    };
  },
  reference(node, [x], rows) {
    const { weight, bias, inFeatures: k, outFeatures: n } = linearOf(node);
    const y = new Float64Array(rows * n);
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < n; o++) {
        let sum = bias ? bias[o]! : 0;
        for (let i = 0; i < k; i++) sum += x![r * k + i]! * weight[o * k + i]!;
        y[r * n + o] = sum;
      }
    }
    return y;
  },
  describe: () => 'linear',
};

export interface LinearData {
  name: string;
  inFeatures: number;
  outFeatures: number;
  /** [outFeatures, inFeatures], row-major. */
  weight: FloatArray;
  bias: FloatArray | null;
}

/** A linear node's tensors, typed. */
export function linearOf(node: OpNode): LinearData {
  const [outFeatures, inFeatures] = node.shapes.weight as [number, number];
  return { name: node.name, inFeatures, outFeatures, weight: node.tensors.weight!, bias: node.tensors.bias ?? null };
}
