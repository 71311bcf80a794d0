import type { ManifestAttr, ManifestNode } from '../manifest-v2.js';
import type { RawTensor, TensorMap } from '../tensors.js';
import { f64Tensor, floats, num, onnx, type Node } from './decode.js';

/**
 * What the rules (rules.ts) and patterns (patterns.ts) share while an ONNX graph is imported:
 * which values are constants and which are activations (with their row width), who produces
 * and who reads each value, and the op-graph nodes and tensors written so far. Every
 * activation is a [batch, width] matrix: that is all the supported families need.
 */
export class OnnxGraph {
  /** Initializers and Constant outputs, by ONNX value name. */
  readonly consts = new Map<string, RawTensor>();
  /** Row width of each activation value computed so far, by ONNX value name. */
  readonly widths = new Map<string, number>();
  /** The node writing each value, and the nodes reading it. */
  readonly producer = new Map<string, Node>();
  readonly consumers = new Map<string, Node[]>();
  /** The manifest's nodes and tensors, in execution order. */
  readonly nodes: ManifestNode[] = [];
  readonly tensors: TensorMap = new Map();
  readonly problems: string[] = [];
  private readonly prefixes = new Set<string>();

  constructor(
    onnxNodes: readonly Node[],
    /** The graph's output names: read by the caller, so never private to a pattern. */
    readonly outputs: ReadonlySet<string>,
    readonly external: Map<string, Uint8Array>,
  ) {
    for (const n of onnxNodes) {
      for (const o of n.output ?? []) if (o) this.producer.set(o, n);
      for (const i of n.input ?? []) if (i) (this.consumers.get(i) ?? this.consumers.set(i, []).get(i)!).push(n);
    }
  }

  /** The attribute as a number (float or int), or `fallback` when absent. */
  attr(n: Node, name: string, fallback: number): number {
    const a = (n.attribute ?? []).find((x) => x.name === name);
    if (!a) return fallback;
    // ONNX stores float attributes as float32: 0.01 arrives as 0.009999999776…; keep what was meant.
    return a.type === onnx.AttributeProto.AttributeType.FLOAT ? shortestF32(a.f ?? 0) : num(a.i);
  }

  stringAttr(n: Node, name: string, fallback: string): string {
    const a = (n.attribute ?? []).find((x) => x.name === name);
    return a?.s ? new TextDecoder().decode(a.s) : fallback;
  }

  intsAttr(n: Node, name: string): number[] | undefined {
    const a = (n.attribute ?? []).find((x) => x.name === name);
    return a ? (a.ints ?? []).map(num) : undefined;
  }

  /** The width of the activation the node reads at input `i`, or undefined when it is none. */
  width(n: Node, i = 0): number | undefined {
    return this.widths.get(n.input?.[i] ?? '');
  }

  constant(n: Node, i: number): RawTensor | undefined {
    return this.consts.get(n.input?.[i] ?? '');
  }

  /** A constant holding one number (any shape of size 1), or null. */
  scalar(value: string): number | null {
    const t = this.consts.get(value);
    if (!t || t.shape.reduce((a, b) => a * b, 1) !== 1) return null;
    return floats(t)[0]!;
  }

  /** Readers of a value (the graph output counts as one). */
  readers(value: string): number {
    return (this.consumers.get(value)?.length ?? 0) + (this.outputs.has(value) ? 1 : 0);
  }

  /** The node producing `value` when it is of type `op` and read by nothing but `by`. */
  privateProducer(value: string, op: string, by: Node): Node | null {
    const p = this.producer.get(value);
    const readers = this.consumers.get(value) ?? [];
    if (p?.opType !== op || this.outputs.has(value) || readers.some((r) => r !== by)) return null;
    return p;
  }

  /**
   * A name for a node's tensors: the module path PyTorch gave the initializer (`blocks.0.bn1`
   * from `blocks.0.bn1.weight`), so tensors keep their state_dict names; else `onnx.<k>`.
   */
  prefix(initializer: string | undefined): string {
    const m = /^(.+)\.(weight|bias|running_mean|running_var)$/.exec(initializer ?? '');
    // A shared initializer (tied weights) names a second node too: that one gets its own prefix.
    let p = m && !m[1]!.startsWith('onnx::') ? m[1]! : '';
    for (let k = this.prefixes.size; !p || this.prefixes.has(p); k++) p = `onnx.${k}`;
    this.prefixes.add(p);
    return p;
  }

  /** Stores a tensor under `name`: the initializer itself (a view, no copy) or float64 values. */
  param(name: string, t: RawTensor | { shape: number[]; values: Float64Array }): string {
    this.tensors.set(name, 'values' in t ? f64Tensor(name, t.shape, t.values) : { ...t, name });
    return name;
  }

  /** Writes a node of the op graph; its output is an activation of `width` columns. */
  emit(n: Node, node: Omit<ManifestNode, 'output'> & { output?: string }, width: number): true {
    const output = node.output ?? n.output?.[0] ?? '';
    const attrs = node.attrs && Object.keys(node.attrs).length > 0 ? { attrs: node.attrs as Record<string, ManifestAttr> } : {};
    this.nodes.push({ op: node.op, name: node.name ?? (n.name || output), inputs: node.inputs, output, ...(node.params && { params: node.params }), ...attrs });
    this.widths.set(output, width);
    return true;
  }
}

/** `${opType} (${name})`: how messages name an ONNX node. */
export const describeNode = (n: Node): string => `${n.opType} (${n.name || n.output?.[0]})`;

/** The shortest decimal that is the same float32 (1e-5, not 9.99999974738e-6). */
export function shortestF32(x: number): number {
  for (let p = 1; p < 17; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.fround(y) === Math.fround(x)) return y;
  }
  return x;
}

/** Whether a constant read from a file (often float32) is `expected`, within float32 rounding. */
export const near = (actual: number | null, expected: number): boolean =>
  actual !== null && Math.abs(actual - expected) <= 1e-6 * Math.max(1, Math.abs(expected));

/** The values of a constant that must hold one number per column, as [width]; null otherwise. */
export function perColumn(t: RawTensor, width: number): Float64Array | null {
  const size = t.shape.reduce((a, b) => a * b, 1);
  // [], [1], [w], [1, w] broadcast per column; [w, 1] would be per row of the batch.
  const columns = t.shape.length <= 1 || (t.shape.length === 2 && t.shape[0] === 1);
  if (!columns || (size !== 1 && size !== width)) return null;
  const v = floats(t);
  return size === width ? v : Float64Array.from({ length: width }, () => v[0]!);
}
