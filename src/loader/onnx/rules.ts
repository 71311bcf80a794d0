import { DEFAULT_NORM_EPS as DEFAULT_BATCHNORM_EPS } from '../../graph/op-graph.js';
import type { RawTensor } from '../tensors.js';
import { floats, rawTensor, type Node } from './decode.js';
import { perColumn, type OnnxGraph } from './graph.js';

/**
 * ONNX ops as rules, one per op type: a rule reads one node and writes its op-graph node(s)
 * (or records a constant) and returns true, or returns false (the node is then reported as
 * unsupported; a rule may first add a more precise problem). The decomposed forms of
 * LayerNorm, GELU and SiLU are matched before these run (patterns.ts). Adding an op: one
 * entry in RULES.
 */
export type Rule = (n: Node, g: OnnxGraph, what: string) => boolean;

/** [in, out] (MatMul, Gemm with transB = 0) → [out, in], times alpha. */
function transposed(t: RawTensor, alpha: number): Float64Array {
  const [inF, out] = t.shape as [number, number];
  const v = floats(t);
  return Float64Array.from({ length: inF * out }, (_, k) => v[(k % inF) * out + Math.floor(k / inF)]! * alpha);
}

/** Writes a `linear`: `w` is [out, in], the initializer itself when it already is, else float64 values. */
function linear(n: Node, g: OnnxGraph, source: RawTensor, w: RawTensor | Float64Array, [out, inF]: [number, number], bias: Float64Array | null): true {
  const p = g.prefix(source.name);
  const params: Record<string, string> = { weight: g.param(`${p}.weight`, w instanceof Float64Array ? { shape: [out, inF], values: w } : w) };
  if (bias) params.bias = g.param(`${p}.bias`, { shape: [out], values: bias });
  return g.emit(n, { op: 'linear', name: p.startsWith('onnx.') ? undefined : p, inputs: [n.input![0]!], params }, out);
}

const gemm: Rule = (n, g, what) => {
  const inWidth = g.width(n);
  const b = g.constant(n, 1);
  const c = n.input?.[2] ? g.constant(n, 2) : undefined;
  if (inWidth === undefined || !b || b.shape.length !== 2 || g.attr(n, 'transA', 0) !== 0 || (n.input?.[2] && !c)) {
    if (!b && n.input?.[1]) g.problems.push(`${what} reads "${n.input[1]}", which is neither an initializer nor a constant`);
    if (g.attr(n, 'transA', 0) !== 0) g.problems.push(`${what} has transA=1, which resgpu does not handle`);
    return false;
  }
  const alpha = g.attr(n, 'alpha', 1);
  const beta = g.attr(n, 'beta', 1);
  const transB = g.attr(n, 'transB', 0) !== 0;
  const [out, inF] = transB ? (b.shape as [number, number]) : [b.shape[1]!, b.shape[0]!];
  const w = transB ? (alpha === 1 ? b : floats(b).map((x) => x * alpha)) : transposed(b, alpha);
  let bias: Float64Array | null = null;
  if (c) {
    const cv = perColumn(c, out);
    if (!cv) {
      g.problems.push(`${what} has a bias of shape [${c.shape.join(', ')}] for ${out} outputs; resgpu needs one value per output column`);
      return true; // reported precisely above
    }
    bias = cv.map((x) => beta * x);
  }
  if (inF !== inWidth) g.problems.push(`${what} takes ${inF} features but is fed ${inWidth}`);
  return inF === inWidth && linear(n, g, b, w, [out, inF], bias);
};

const matMul: Rule = (n, g, what) => {
  const inWidth = g.width(n);
  const b = g.constant(n, 1);
  if (!b && n.input?.[1]) g.problems.push(`${what} reads "${n.input[1]}", which is neither an initializer nor a constant`);
  if (b?.shape.length === 2 && inWidth !== undefined && b.shape[0] !== inWidth) g.problems.push(`${what} takes ${b.shape[0]} features but is fed ${inWidth}`);
  if (inWidth === undefined || !b || b.shape.length !== 2 || b.shape[0] !== inWidth) return false;
  return linear(n, g, b, transposed(b, 1), [b.shape[1]!, b.shape[0]!], null);
};

/** Two activations: the residual `add`. An activation and a constant: the bias of the bias-free linear before it (MatMul + Add). */
const add: Rule = (n, g, what) => {
  const [a, b] = [g.width(n, 0), g.width(n, 1)];
  if (a !== undefined && b !== undefined) {
    if (a !== b) g.problems.push(`${what} adds values of ${a} and ${b} columns`);
    return a === b && g.emit(n, { op: 'add', inputs: [n.input![0]!, n.input![1]!] }, a);
  }
  const i = a !== undefined ? 0 : 1;
  const value = n.input?.[i] ?? '';
  const c = g.constant(n, 1 - i);
  const before = g.nodes.at(-1);
  // Only the node written just before, read by nothing but this Add: its output then never existed without the bias.
  if (!c || before?.output !== value || before.op !== 'linear' || before.params?.bias || g.readers(value) !== 1) return false;
  const width = g.widths.get(value)!;
  const bias = perColumn(c, width);
  if (!bias) return false;
  const weight = before.params!.weight!;
  before.params!.bias = g.param(weight.replace(/\.weight$/, '.bias'), { shape: [width], values: bias });
  before.output = n.output![0]!;
  g.widths.set(before.output, width);
  return true;
};

const batchNormalization: Rule = (n, g, what) => {
  const width = g.width(n);
  const params = [1, 2, 3, 4].map((i) => g.constant(n, i));
  if (width === undefined || !params.every((p) => p?.shape.length === 1 && p.shape[0] === width)) return false;
  if (g.attr(n, 'training_mode', 0) !== 0 || (n.output ?? []).slice(1).some((o) => o && g.readers(o) > 0)) {
    g.problems.push(`${what} is in training mode; resgpu runs eval-mode models (export after model.eval())`);
    return true;
  }
  const p = g.prefix(params[0]!.name);
  const roles = ['weight', 'bias', 'running_mean', 'running_var'];
  const tensors = Object.fromEntries(roles.map((k, i) => [k, g.param(`${p}.${k}`, params[i]!)]));
  const eps = g.attr(n, 'epsilon', DEFAULT_BATCHNORM_EPS);
  return g.emit(n, { op: 'batchnorm', name: p.startsWith('onnx.') ? undefined : p, inputs: [n.input![0]!], params: tensors, attrs: { eps } }, width);
};

const layerNormalization: Rule = (n, g, what) => {
  const width = g.width(n);
  const scale = g.constant(n, 1);
  const bias = n.input?.[2] ? g.constant(n, 2) : undefined;
  const axis = g.attr(n, 'axis', -1);
  if (width === undefined) return false;
  if (axis !== -1 && axis !== 1) {
    g.problems.push(`${what} normalizes from axis ${axis}, over more than the last dimension; resgpu's layernorm normalizes over the last one only`);
    return true;
  }
  if (!scale || (n.input?.[2] && !bias) || [scale, bias].some((t) => t && !perColumn(t, width)) || (n.output ?? []).slice(1).some((o) => o && g.readers(o) > 0)) return false;
  const p = g.prefix(scale.name);
  const params: Record<string, string> = { weight: g.param(`${p}.weight`, { ...scale, shape: [width] }) };
  if (bias) params.bias = g.param(`${p}.bias`, { ...bias, shape: [width] });
  return g.emit(n, { op: 'layernorm', name: p.startsWith('onnx.') ? undefined : p, inputs: [n.input![0]!], params, attrs: { eps: g.attr(n, 'epsilon', 1e-5) } }, width);
};

/** An elementwise function of one activation. */
const activation = (fn: string, attrs: (n: Node, g: OnnxGraph) => Record<string, number | string> = () => ({})): Rule => (n, g) => {
  const width = g.width(n);
  return width !== undefined && g.emit(n, { op: 'activation', inputs: [n.input![0]!], attrs: { fn, ...attrs(n, g) } }, width);
};

/** Identity or Dropout: a node of that op on an activation, the same constant on a constant. */
const passThrough = (op: 'identity' | 'dropout'): Rule => (n, g, what) => {
  const width = g.width(n);
  const c = g.constant(n, 0);
  if (c) {
    g.consts.set(n.output![0]!, c);
    return true;
  }
  // Dropout's training_mode input (opset 12+): absent or a constant false is eval mode.
  const training = n.input?.[2] ? g.constant(n, 2) : undefined;
  if (op === 'dropout' && n.input?.[2] && (!training || floats(training)[0] !== 0)) {
    g.problems.push(`${what} may run in training mode; resgpu runs eval-mode models`);
    return true;
  }
  if (n.output?.[1] && g.readers(n.output[1]) > 0) return false; // the dropout mask is read
  return width !== undefined && g.emit(n, { op, inputs: [n.input![0]!] }, width);
};

const gelu: Rule = (n, g, what) => {
  const approximate = g.stringAttr(n, 'approximate', 'none');
  if (approximate === 'none' || approximate === 'tanh') return activation('gelu', () => ({ approximate }))(n, g, what);
  g.problems.push(`${what} has approximate="${approximate}"; resgpu knows "none" and "tanh"`);
  return true;
};

export const RULES: Readonly<Record<string, Rule>> = {
  Identity: passThrough('identity'),
  Dropout: passThrough('dropout'), // eval mode: the identity
  Flatten: (n, g) => g.attr(n, 'axis', 1) === 1 && g.width(n) !== undefined && g.emit(n, { op: 'flatten', inputs: [n.input![0]!] }, g.width(n)!),
  Reshape: (n, g) => {
    const width = g.width(n);
    const shape = g.constant(n, 1);
    const target = shape && floats(shape);
    const keepsRow = !!target && target.length === 2 && [-1, 0].includes(target[0]!) && target[1] === width;
    return keepsRow && g.emit(n, { op: 'flatten', inputs: [n.input![0]!] }, width!);
  },
  Constant: (n, g) => {
    const t = (n.attribute ?? []).find((a) => a.name === 'value')?.t;
    return !!t && !!g.consts.set(n.output?.[0] ?? '', rawTensor({ ...t, name: n.output?.[0] ?? '' }, g.external));
  },
  Gemm: gemm,
  MatMul: matMul,
  Add: add,
  BatchNormalization: batchNormalization,
  LayerNormalization: layerNormalization,
  Relu: activation('relu'),
  LeakyRelu: activation('leaky_relu', (n, g) => ({ negative_slope: g.attr(n, 'alpha', 0.01) })),
  Sigmoid: activation('sigmoid'),
  Tanh: activation('tanh'),
  Gelu: gelu,
};
