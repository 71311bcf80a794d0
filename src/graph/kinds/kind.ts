import { GraphError } from '../../errors.js';
import type { AttrValue, OpNode } from '../op-graph.js';

/**
 * A node kind: everything resgpu knows about one op, in one file. Adding a kind is a file in
 * this folder, one line in registry.ts, and its fusion rule in fuse.ts (or none: an unfused
 * node is a step of its own only where a backend has a kernel for it).
 */
export interface NodeKind {
  op: string;
  /** How messages name it: 'Linear', 'BatchNorm', ... */
  title: string;
  /** How many values it reads. */
  arity: number;
  /** Tensor roles it needs, and roles it may have. */
  params: { required: readonly string[]; optional: readonly string[] };
  /** Eval mode computes the identity: the fusion pass drops it (dropout, identity, flatten of a row). */
  passThrough?: boolean;
  /** Checks a manifest node's attributes; returns them with defaults filled in. Throws an Error whose message says why. */
  attrs(raw: Readonly<Record<string, unknown>>): Record<string, AttrValue>;
  /**
   * The output row shape, given the input row shapes and the shapes the file gives the node's
   * tensors; and the shape each tensor must have (with what it is, for the error). Throws a
   * GraphError naming the node when the shapes do not fit.
   */
  shapes(node: ShapeQuery): { output: number[]; params: Record<string, { shape: number[]; why: string }> };
  /** The float64 reference: `inputs` hold `rows` rows each; returns rows × output row size. */
  reference(node: OpNode, inputs: Float64Array[], rows: number, inputShapes: number[][]): Float64Array;
  /** A short description of what the node computes, for labels: "linear", "leaky_relu(0.01)". */
  describe(node: Pick<OpNode, 'attrs' | 'params'>): string;
}

export interface ShapeQuery {
  /** "node 3 (blocks.0.linear1)", for messages. */
  where: string;
  inputs: number[][];
  attrs: Readonly<Record<string, AttrValue>>;
  /** The file's shape of each tensor the node names, by role. */
  tensors: Readonly<Record<string, readonly number[]>>;
}

/** An attribute read with a default and a check. */
export function attr<T extends AttrValue>(raw: Readonly<Record<string, unknown>>, key: string, fallback: T, ok: (v: unknown) => boolean, expected: string): T {
  const v = raw[key];
  if (v === undefined) return fallback;
  if (!ok(v)) throw new Error(`attrs.${key} must be ${expected}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** Refuses attributes the kind does not know: a typo must not be ignored silently. */
export function onlyAttrs(raw: Readonly<Record<string, unknown>>, known: readonly string[]): void {
  const unknown = Object.keys(raw).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new Error(`unknown attrs ${unknown.map((k) => JSON.stringify(k)).join(', ')} (known: ${known.join(', ') || 'none'})`);
}

export const isEps = (v: unknown) => typeof v === 'number' && v >= 0 && Number.isFinite(v);

/** A node whose input must be a row of features ([n]). */
export function features(q: ShapeQuery, i = 0): number {
  const s = q.inputs[i]!;
  if (s.length !== 1) throw new GraphError(`${q.where} reads a value of shape [${s.join(', ')}]; it needs a row of features ([n]).`);
  return s[0]!;
}

/** Per-channel parameters: the channel count of an input row ([C] or [C, H, W]). */
export function channels(shape: readonly number[]): number {
  return shape[0]!;
}
