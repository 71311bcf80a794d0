import { GraphError } from '../../errors.js';
import { DEFAULT_NORM_EPS, type FloatArray, type OpNode } from '../op-graph.js';
import { attr, isEps, onlyAttrs, type NodeKind } from './kind.js';

/**
 * torch.nn.LayerNorm over the last dimension: (x − mean) / √(var + eps) · weight + bias, with the
 * row's own mean and biased variance. weight and bias are absent with elementwise_affine=False
 * (PyTorch 2.1+ may also drop only the bias).
 */
export const layernorm: NodeKind = {
  op: 'layernorm',
  title: 'LayerNorm',
  arity: 1,
  params: { required: [], optional: ['weight', 'bias'] },
  attrs(raw) {
    onlyAttrs(raw, ['eps']);
    return { eps: attr(raw, 'eps', DEFAULT_NORM_EPS, isEps, 'a non-negative number') };
  },
  shapes(q) {
    const shape = q.inputs[0]!;
    const n = shape[shape.length - 1]!;
    if ('bias' in q.tensors && !('weight' in q.tensors)) throw new GraphError(`${q.where} has a bias but no weight.`);
    const per = { shape: [n], why: `a LayerNorm over ${n} features` };
    return { output: [...shape], params: { weight: per, bias: per } };
  },
  reference(node, [x], _rows, [shape]) {
    // Every row normalized over the last dimension (an image's [C, H, W] row holds C·H rows of W).
    const { weight, bias, eps } = layerNormOf(node);
    const n = shape![shape!.length - 1]!;
    const y = new Float64Array(x!.length);
    for (let r = 0; r < x!.length / n; r++) {
      let mean = 0;
      for (let i = 0; i < n; i++) mean += x![r * n + i]!;
      mean /= n;
      let v = 0;
      for (let i = 0; i < n; i++) v += (x![r * n + i]! - mean) ** 2;
      const s = Math.sqrt(v / n + eps);
      for (let i = 0; i < n; i++) y[r * n + i] = ((x![r * n + i]! - mean) / s) * (weight ? weight[i]! : 1) + (bias ? bias[i]! : 0);
    }
    return y;
  },
  describe: () => 'layernorm',
};

/** A layernorm node's tensors, typed. */
export function layerNormOf(node: OpNode): { name: string; weight: FloatArray | null; bias: FloatArray | null; eps: number } {
  return { name: node.name, weight: node.tensors.weight ?? null, bias: node.tensors.bias ?? null, eps: node.attrs.eps as number };
}
