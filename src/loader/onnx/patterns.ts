import type { Node } from './decode.js';
import { describeNode, near, perColumn, shortestF32, type OnnxGraph } from './graph.js';

/**
 * The forms torch.onnx.export writes for ops older opsets lack, matched back into one node
 * each: LayerNorm (before opset 17), GELU exact and tanh (before opset 20) and SiLU. A pattern
 * is matched from its last node (its anchor) backwards; every value inside it must be read
 * only inside it (else the inner value is needed elsewhere and the pattern is refused), and
 * its constants must be what the op's formula has, within float32 rounding. Nothing is
 * guessed: a graph that is not exactly the pattern stays unmatched, and its ops are then
 * refused by name.
 */
export interface PatternMatch {
  /** Every ONNX node of the pattern, the anchor included. */
  nodes: Node[];
  /** Writes the pattern's op-graph node when the forward pass reaches the anchor. */
  emit(g: OnnxGraph, what: string): boolean;
}

/** A match; null when the anchor is not this pattern; a string when it nearly is, saying why not. */
type Matcher = (anchor: Node, g: OnnxGraph) => PatternMatch | string | null;

interface Pattern {
  name: string;
  anchors: readonly string[];
  match: Matcher;
}

/** c · Πterms, read through Mul, Div by a constant and Pow by 2 or 3 whose results nothing else reads. */
interface Product {
  scale: number;
  terms: { value: string; by: Node }[];
  nodes: Node[];
}

/** Nodes a product may span: the tanh GELU's longest has 4; a hostile chain of a million Muls stops here. */
const MAX_PRODUCT_NODES = 16;

function expand(n: Node, g: OnnxGraph, p: Product): boolean {
  if (p.nodes.length >= MAX_PRODUCT_NODES) return false;
  p.nodes.push(n);
  const [a, b] = [n.input?.[0] ?? '', n.input?.[1] ?? ''];
  if (n.opType === 'Mul') return factor(a, n, g, p) && factor(b, n, g, p);
  const c = g.scalar(b);
  if (n.opType === 'Div' && c) {
    p.scale /= c;
    return factor(a, n, g, p);
  }
  // x² or x³ (x³ = x · x · x is how the tanh GELU's cube may be written too).
  if (n.opType !== 'Pow' || !(near(c, 2) || near(c, 3)) || g.consts.has(a)) return false;
  for (let k = 0; k < Math.round(c!); k++) p.terms.push({ value: a, by: n });
  return true;
}

function factor(value: string, by: Node, g: OnnxGraph, p: Product): boolean {
  const c = g.scalar(value);
  if (c !== null) {
    p.scale *= c;
    return true;
  }
  if (g.consts.has(value)) return false; // a tensor, not a number: not one of these patterns
  const inner = g.privateProducer(value, 'Mul', by) ?? g.privateProducer(value, 'Div', by) ?? g.privateProducer(value, 'Pow', by);
  if (inner) return expand(inner, g, p);
  p.terms.push({ value, by });
  return true;
}

/** The product a node computes (the node itself may be read by anything). */
function productAt(n: Node, g: OnnxGraph): Product | null {
  const p: Product = { scale: 1, terms: [], nodes: [] };
  return ['Mul', 'Div', 'Pow'].includes(n.opType ?? '') && expand(n, g, p) ? p : null;
}

/** The product feeding `value` (read only by `by`), or the value alone. */
function productOf(value: string, by: Node, g: OnnxGraph): Product | null {
  const p: Product = { scale: 1, terms: [], nodes: [] };
  return factor(value, by, g, p) ? p : null;
}

/** `c + fn(inner)` feeding `value` (read only by `by`), as Add(fn(·), c) in either order. */
function plusConstant(value: string, by: Node, fn: string, g: OnnxGraph) {
  const add = g.privateProducer(value, 'Add', by);
  if (!add) return null;
  for (const i of [0, 1]) {
    const one = g.scalar(add.input?.[1 - i] ?? '');
    const inner = g.privateProducer(add.input?.[i] ?? '', fn, add);
    if (one !== null && inner) return { one, inner, nodes: [add, inner] };
  }
  return null;
}

const activation = (nodes: Node[], x: string, attrs: Record<string, string>): PatternMatch => ({
  nodes,
  emit(g) {
    const width = g.widths.get(x);
    return width !== undefined && g.emit(nodes[0]!, { op: 'activation', inputs: [x], attrs }, width);
  },
});

const fmt = (v: number) => String(Number(v.toPrecision(7)));

/** 0.5 · x · (1 + erf(x / √2)) or (1 + tanh(√(2/π) · (x + 0.044715 · x³))), factors in any order. */
function gelu(fn: 'Erf' | 'Tanh'): Matcher {
  return (anchor, g) => {
    const outer = productAt(anchor, g);
    if (!outer || outer.terms.length !== 2) return null;
    for (const [x, e] of [outer.terms, [...outer.terms].reverse()] as const) {
      const sum = plusConstant(e!.value, e!.by, fn, g);
      if (!sum) continue;
      const arg = productOf(sum.inner.input?.[0] ?? '', sum.inner, g);
      if (!arg) continue;
      let found: number[];
      let wanted: number[];
      let inner: Node[];
      if (fn === 'Erf') {
        if (arg.terms.length !== 1 || arg.terms[0]!.value !== x!.value) continue;
        [found, wanted, inner] = [[outer.scale, sum.one, arg.scale], [0.5, 1, Math.SQRT1_2], arg.nodes];
      } else {
        const s = arg.terms.length === 1 ? g.privateProducer(arg.terms[0]!.value, 'Add', arg.terms[0]!.by) : null;
        const [a, b] = [s?.input?.[0] ?? '', s?.input?.[1] ?? ''];
        const cube = s && (a === x!.value ? productOf(b, s, g) : b === x!.value ? productOf(a, s, g) : null);
        if (!s || !cube || cube.terms.length !== 3 || cube.terms.some((t) => t.value !== x!.value)) continue;
        [found, wanted, inner] = [[outer.scale, sum.one, arg.scale, cube.scale], [0.5, 1, Math.sqrt(2 / Math.PI), 0.044715], [...arg.nodes, s, ...cube.nodes]];
      }
      const kind = fn === 'Erf' ? 'an exact (erf) GELU' : 'a tanh GELU';
      if (!found.every((v, i) => near(v, wanted[i]!))) {
        return `${describeNode(anchor)} ends what looks like ${kind}, but its constants are ${found.map(fmt).join(', ')} where GELU has ${wanted.map(fmt).join(', ')}`;
      }
      return activation([anchor, ...outer.nodes.slice(1), ...sum.nodes, ...inner], x!.value, { fn: 'gelu', approximate: fn === 'Erf' ? 'none' : 'tanh' });
    }
    return null;
  };
}

/** x · sigmoid(x). */
const silu: Matcher = (anchor, g) => {
  const p = productAt(anchor, g);
  if (!p || p.terms.length !== 2 || p.scale !== 1) return null;
  for (const [x, s] of [p.terms, [...p.terms].reverse()] as const) {
    const sigmoid = g.privateProducer(s!.value, 'Sigmoid', s!.by);
    if (sigmoid?.input?.[0] === x!.value) return activation([anchor, ...p.nodes.slice(1), sigmoid], x!.value, { fn: 'silu' });
  }
  return null;
};

/** Whether a ReduceMean averages the last axis of a 2-D value only, keeping it (axes as an attribute, or an input from opset 18). */
function meansLastAxis(n: Node, g: OnnxGraph): boolean {
  const axes = g.intsAttr(n, 'axes') ?? (n.input?.[1] ? [g.scalar(n.input[1])] : []);
  return axes.length === 1 && (axes[0] === -1 || axes[0] === 1) && g.attr(n, 'keepdims', 1) === 1;
}

/**
 * (x − mean(x)) / √(mean((x − mean(x))²) + eps) · γ + β, as torch.onnx.export writes
 * layer_norm before opset 17: ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt, Div, then
 * Mul γ and Add β unless elementwise_affine=False.
 */
const layerNorm: Matcher = (anchor, g) => {
  let n: Node | null = anchor;
  const split = (node: Node) => (g.consts.has(node.input?.[1] ?? '') ? [node.input![0]!, node.input![1]!] : [node.input?.[1] ?? '', node.input?.[0] ?? '']);
  let beta: string | undefined;
  let gamma: string | undefined;
  const nodes: Node[] = [];
  if (n.opType === 'Add') {
    const [v, c] = split(n);
    [beta, n] = [c, g.consts.has(c!) ? g.privateProducer(v!, 'Mul', n) ?? g.privateProducer(v!, 'Div', n) : null];
    nodes.push(anchor);
  }
  if (n?.opType === 'Mul') {
    const [v, c] = split(n);
    nodes.push(n);
    [gamma, n] = [c, g.consts.has(c!) ? g.privateProducer(v!, 'Div', n) : null];
  }
  if (n?.opType !== 'Div') return null;
  const div = n;
  const [d, r] = [div.input?.[0] ?? '', div.input?.[1] ?? ''];
  const sub = g.producer.get(d);
  const sqrt = g.privateProducer(r, 'Sqrt', div);
  const plusEps = sqrt && g.privateProducer(sqrt.input?.[0] ?? '', 'Add', sqrt);
  const [v, epsValue] = plusEps ? split(plusEps) : [];
  const variance = plusEps && g.privateProducer(v!, 'ReduceMean', plusEps);
  const square = variance && (g.privateProducer(variance.input?.[0] ?? '', 'Pow', variance) ?? g.privateProducer(variance.input?.[0] ?? '', 'Mul', variance));
  const mean = sub?.opType === 'Sub' ? g.privateProducer(sub.input?.[1] ?? '', 'ReduceMean', sub) : null;
  const x = sub?.input?.[0] ?? '';
  const squares = square?.opType === 'Pow' ? square.input?.[0] === d : square?.input?.[0] === d && square.input?.[1] === d;
  if (!sub || !mean || mean.input?.[0] !== x || !square || !squares || g.scalar(epsValue ?? '') === null) return null;
  nodes.push(div, sqrt!, plusEps!, variance, square, sub, mean);
  const what = `${describeNode(anchor)} ends what looks like a LayerNorm`;
  const exponent = square.opType === 'Pow' ? g.scalar(square.input?.[1] ?? '') : 2;
  if (!near(exponent, 2)) return `${what}, but ${describeNode(square)} raises to the power ${exponent} where LayerNorm squares`;
  if (!meansLastAxis(mean, g) || !meansLastAxis(variance, g)) return `${what}, but its ReduceMean nodes do not average the last axis alone (keepdims=1)`;
  const others = (g.consumers.get(d) ?? []).filter((c) => c !== square && c !== div);
  if (others.length > 0 || g.outputs.has(d)) return `${what}, but ${describeNode(sub)}'s output is also read by ${others.map(describeNode).join(', ') || 'the graph output'}`;
  const eps = g.consts.get(epsValue!)!;
  return {
    nodes,
    emit(graph, at) {
      const width = graph.widths.get(x);
      if (width === undefined) return false;
      const [gm, bt] = [gamma && graph.consts.get(gamma), beta && graph.consts.get(beta)];
      const [gv, bv] = [gm && perColumn(gm, width), bt && perColumn(bt, width)];
      if ((gm && !gv) || (bt && !bv)) {
        graph.problems.push(`${at}: the LayerNorm's weight or bias does not hold one value per column (${width})`);
        return true;
      }
      const p = graph.prefix((gm || bt || undefined)?.name);
      const params: Record<string, string> = {};
      if (gv) params.weight = graph.param(`${p}.weight`, { shape: [width], values: gv });
      if (bv) params.bias = graph.param(`${p}.bias`, { shape: [width], values: bv });
      const e = g.scalar(epsValue!)!;
      const attrs = { eps: eps.dtype === 'F64' ? e : shortestF32(e) };
      return graph.emit(anchor, { op: 'layernorm', name: p.startsWith('onnx.') ? undefined : p, inputs: [x], params, attrs }, width);
    },
  };
};

/** Tried at each anchor in this order; the first match wins. */
export const PATTERNS: readonly Pattern[] = [
  { name: 'LayerNorm', anchors: ['Add', 'Mul', 'Div'], match: layerNorm },
  { name: 'GELU (erf)', anchors: ['Mul', 'Div'], match: gelu('Erf') },
  { name: 'GELU (tanh)', anchors: ['Mul', 'Div'], match: gelu('Tanh') },
  { name: 'SiLU', anchors: ['Mul'], match: silu },
];
