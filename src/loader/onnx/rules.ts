import { DEFAULT_NORM_EPS as DEFAULT_BATCHNORM_EPS } from '../../graph/op-graph.js';
import type { RawTensor, TensorMap } from '../tensors.js';
import { f64Tensor, floats, num, onnx, rawTensor, type Node } from './decode.js';
import type { DenseExpr, Expr } from './layers.js';

/**
 * ONNX ops as rules: each rule reads one node and either records what its output is (an
 * expression over the input, or a constant) and returns true, or returns false (the op is
 * then reported as unsupported; a rule may add a more precise problem first). Gemm / MatMul
 * (+ Add) become linears, BatchNormalization is kept beside its linear (folded at upload like
 * any other), Relu and the residual Add are absorbed into blocks by layers.ts, and Identity,
 * Dropout, 2-D Flatten / Reshape and Constant are aliases. Adding an op: one entry below.
 */
export class Rewrite {
  /** Activation values by ONNX value name. */
  readonly values = new Map<string, Expr>();
  /** The tensors of the rewritten model, by the names its manifest gives them. */
  readonly tensors: TensorMap = new Map();
  readonly problems: string[] = [];
  eps: number | null = null;
  private count = 0;

  constructor(
    /** Initializers and constants by ONNX value name. */
    readonly init: Map<string, RawTensor>,
    readonly external: Map<string, Uint8Array>,
  ) {}

  attr(n: Node, name: string, fallback: number): number {
    const a = (n.attribute ?? []).find((x) => x.name === name);
    return a ? (a.type === onnx.AttributeProto.AttributeType.FLOAT ? a.f ?? 0 : num(a.i)) : fallback;
  }

  activation(n: Node, i = 0): Expr | undefined {
    return this.values.get(n.input?.[i] ?? '');
  }

  constant(n: Node, i: number): RawTensor | undefined {
    return this.init.get(n.input?.[i] ?? '');
  }

  /** Records the node's output as an activation or a constant; false when it is neither. */
  alias(n: Node, to: Expr | undefined, t?: RawTensor): boolean {
    const out = n.output?.[0] ?? '';
    if (to) this.values.set(out, to);
    else if (t) this.init.set(out, t);
    return Boolean(to || t);
  }

  /** A new linear; `w` is [out, in]: the initializer itself when it already is (no copy), else a rewritten float64 copy. */
  dense(n: Node, src: Expr, w: RawTensor | Float64Array, out: number, inF: number, bias: Float64Array | null): DenseExpr {
    const p = `onnx.${this.count++}`;
    this.tensors.set(`${p}.weight`, w instanceof Float64Array ? f64Tensor(`${p}.weight`, [out, inF], w) : { ...w, name: `${p}.weight` });
    if (bias) this.tensors.set(`${p}.bias`, f64Tensor(`${p}.bias`, [out], bias));
    return { op: 'dense', src, width: out, linear: p, hasBias: Boolean(bias), bn: null, relu: false, node: n.name ?? n.opType ?? '' };
  }
}

export type Rule = (n: Node, r: Rewrite, what: string) => boolean;

/** [in, out] (MatMul, Gemm with transB = 0) → [out, in], times alpha. */
function transposed(t: RawTensor, alpha: number): Float64Array {
  const [inF, out] = t.shape as [number, number];
  const v = floats(t);
  return Float64Array.from({ length: inF * out }, (_, k) => v[(k % inF) * out + Math.floor(k / inF)]! * alpha);
}

const passThrough: Rule = (n, r) => r.alias(n, r.activation(n), r.constant(n, 0));

const gemm: Rule = (n, r, what) => {
  const src = r.activation(n);
  const b = r.constant(n, 1);
  const c = n.input?.[2] ? r.constant(n, 2) : undefined;
  if (!src || !b || b.shape.length !== 2 || r.attr(n, 'transA', 0) !== 0 || (n.input?.[2] && !c)) {
    if (!b && n.input?.[1]) r.problems.push(`${what} reads "${n.input[1]}", which is neither an initializer nor a constant`);
    if (r.attr(n, 'transA', 0) !== 0) r.problems.push(`${what} has transA=1, which resgpu does not handle`);
    return false;
  }
  const alpha = r.attr(n, 'alpha', 1);
  const beta = r.attr(n, 'beta', 1);
  const transB = r.attr(n, 'transB', 0) !== 0;
  const [out, inF] = transB ? (b.shape as [number, number]) : [b.shape[1]!, b.shape[0]!];
  const w = transB ? (alpha === 1 ? b : floats(b).map((x) => x * alpha)) : transposed(b, alpha);
  let bias: Float64Array | null = null;
  if (c) {
    const cv = floats(c);
    // C broadcasts to [batch, out] from the right: [], [1], [out], [1, 1] or [1, out] are per column;
    // [out, 1] would be per row of the batch, which a linear layer's bias is not.
    const perColumn = c.shape.length <= 1 || (c.shape.length === 2 && c.shape[0] === 1);
    if ((cv.length !== 1 && cv.length !== out) || !perColumn) {
      r.problems.push(`${what} has a bias of shape [${c.shape.join(', ')}] for ${out} outputs; resgpu needs one value per output column`);
      return true; // reported precisely above
    }
    bias = Float64Array.from({ length: out }, (_, o) => beta * cv[cv.length === 1 ? 0 : o]!);
  }
  if (inF !== src.width) r.problems.push(`${what} takes ${inF} features but is fed ${src.width}`);
  return inF === src.width && r.alias(n, r.dense(n, src, w, out, inF, bias));
};

const matMul: Rule = (n, r) => {
  const src = r.activation(n);
  const b = r.constant(n, 1);
  if (!src || !b || b.shape.length !== 2 || b.shape[0] !== src.width) return false;
  return r.alias(n, r.dense(n, src, transposed(b, 1), b.shape[1]!, b.shape[0]!, null));
};

const add: Rule = (n, r) => {
  const [a, b] = [r.activation(n, 0), r.activation(n, 1)];
  if (a && b) return r.alias(n, { op: 'add', a, b, width: a.width, node: n.name ?? '' });
  const c = r.constant(n, 0) ?? r.constant(n, 1);
  const d = a ?? b;
  if (d?.op !== 'dense' || d.hasBias || d.bn || d.relu || !c || ![1, d.width].includes(c.shape.reduce((x, y) => x * y, 1))) return false;
  // MatMul + Add: the bias of the linear before it.
  const cv = floats(c);
  const bias = Float64Array.from({ length: d.width }, (_, o) => cv[cv.length === 1 ? 0 : o]!);
  r.tensors.set(`${d.linear}.bias`, f64Tensor(`${d.linear}.bias`, [d.width], bias));
  return r.alias(n, { ...d, hasBias: true });
};

const batchNormalization: Rule = (n, r, what) => {
  const src = r.activation(n);
  const params = [1, 2, 3, 4].map((i) => r.constant(n, i));
  if (src?.op !== 'dense' || src.bn || src.relu || !params.every((p) => p) || r.attr(n, 'training_mode', 0) !== 0) return false;
  const e = r.attr(n, 'epsilon', DEFAULT_BATCHNORM_EPS);
  if (r.eps !== null && Math.abs(e - r.eps) > 1e-12) r.problems.push(`${what} has epsilon ${e}, another BatchNormalization ${r.eps}; resgpu needs one epsilon`);
  r.eps = e;
  const p = `${src.linear}_bn`;
  ['weight', 'bias', 'running_mean', 'running_var'].forEach((k, i) => r.tensors.set(`${p}.${k}`, { ...params[i]!, name: `${p}.${k}` }));
  return r.alias(n, { ...src, bn: p });
};

const relu: Rule = (n, r) => {
  const src = r.activation(n);
  if (src?.op === 'dense') return r.alias(n, { ...src, relu: true });
  if (src?.op === 'add') return r.alias(n, { op: 'relu', src, width: src.width, node: n.name ?? '' });
  return src?.op === 'relu' && r.alias(n, src);
};

export const RULES: Readonly<Record<string, Rule>> = {
  Identity: passThrough,
  Dropout: passThrough, // eval mode: the identity
  Flatten: (n, r) => r.attr(n, 'axis', 1) === 1 && r.alias(n, r.activation(n)),
  Reshape: (n, r) => {
    const src = r.activation(n);
    const shape = r.constant(n, 1);
    const target = shape && floats(shape);
    return !!src && !!target && target.length === 2 && [-1, 0].includes(target[0]!) && target[1] === src.width && r.alias(n, src);
  },
  Constant: (n, r) => {
    const t = (n.attribute ?? []).find((a) => a.name === 'value')?.t;
    return !!t && r.alias(n, undefined, rawTensor({ ...t, name: n.output?.[0] ?? '' }, r.external));
  },
  Gemm: gemm,
  MatMul: matMul,
  Add: add,
  BatchNormalization: batchNormalization,
  Relu: relu,
};
