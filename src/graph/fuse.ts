import { GraphError } from '../errors.js';
import { activationOf } from './kinds/activation.js';
import { KINDS } from './kinds/registry.js';
import type { OpGraph, OpNode } from './op-graph.js';
import type { ConvGeometry, Epilogue, AnyFusedModel, GemmPart, PoolGeometry, AnyStep, AnyStepKind, ValueInfo } from './steps.js';

/**
 * The one fusion pass (every backend runs every step kind it makes): the op graph becomes backend steps (steps.ts), once per model, from
 * shapes alone. Rules, each exact:
 *  - dropout, identity and flatten of a row vanish (eval mode);
 *  - a BatchNorm right after a Linear, read by nothing else, folds into the Linear's rows;
 *  - a BatchNorm read only by a Linear folds into that Linear's columns (exact: a Linear has no
 *    padding); read only by a Conv2d, only when the conv has zero padding (padding is zero
 *    before the shift, not after: folded, the border would be wrong), else it stays a step;
 *  - a Conv2d heads a step as a Linear does (kind 'conv', the same folding and epilogue), and a
 *    1×1 zero-padded Conv2d (+ BatchNorm) on a block's shortcut is stacked into the block's last
 *    conv as a projection (both make the same output pixels): a BasicBlock is 2 steps;
 *  - a pooling node is a 'pool' step, whose epilogue may take a following activation; but a
 *    global average pooling read only by a Linear (through flatten, or a BatchNorm folded into
 *    the Linear's columns) is that gemm step's prologue ('mean_pixels'): the step reads the image
 *    and averages each channel over its pixels first, so the pooled value is never stored;
 *  - a residual add becomes the epilogue of the step making one operand (when nothing else reads
 *    that operand); when both operands are Linears (+ BatchNorm) read only by the add, the
 *    shallower one is stacked into the deeper one's GEMM along the inner dimension;
 *  - then a BatchNorm that could not fold (read only after an add) becomes the epilogue's
 *    per-column scale and shift, and an activation the epilogue's activation.
 * Every other node is a step of its own: LayerNorm, and a BatchNorm, add or activation that
 * no step absorbs (elementwise). Nothing is refused for being unfusable.
 */
export function fuseAnyGraph(g: OpGraph): AnyFusedModel {
  const { nodes } = g;
  const producer = new Map<number, number>();
  nodes.forEach((n, i) => producer.set(n.output, i));
  // Pass-through nodes vanish: each value read is replaced by the value it passes on.
  const canon = g.values.map((_, v) => v);
  for (const n of nodes) if (KINDS[n.op]!.passThrough) canon[n.output] = canon[n.inputs[0]!]!;
  const inputsOf = (n: OpNode) => n.inputs.map((v) => canon[v]!);
  const output = canon[g.output]!;

  const readers = new Map<number, number[]>();
  nodes.forEach((n, i) => {
    if (KINDS[n.op]!.passThrough) return;
    for (const v of inputsOf(n)) {
      const list = readers.get(v);
      if (list) list.push(i);
      else readers.set(v, [i]);
    }
  });
  /** The one node reading v, or -1 (several readers, none, or v is the model output). */
  const soleReader = (v: number): number => {
    const r = readers.get(v) ?? [];
    return r.length === 1 && v !== output ? r[0]! : -1;
  };
  const opAt = (i: number) => (i < 0 ? '' : nodes[i]!.op);

  // Longest path from the input, to tell a block's main branch from its shortcut.
  const depth = g.values.map(() => 0);
  nodes.forEach((n) => (depth[n.output] = 1 + Math.max(...inputsOf(n).map((v) => depth[v]!))));

  const isHead = (op: string) => op === 'linear' || op === 'conv2d';
  /** A conv whose input channels a BatchNorm may be folded into, exactly. */
  const unpadded = (i: number) => (nodes[i]!.attrs.padding as number[]).every((p) => p === 0);
  const claimed = new Set<number>();
  const after = new Map<number, number>();
  const linearBefore = new Map<number, number>(); // an after-BatchNorm → its Linear
  const before = new Map<number, number>();
  nodes.forEach((n, i) => {
    const r = soleReader(n.output);
    if (isHead(n.op) && opAt(r) === 'batchnorm') {
      after.set(i, r);
      linearBefore.set(r, i);
      claimed.add(r);
    }
  });
  nodes.forEach((n, i) => {
    const r = soleReader(n.output);
    const folds = opAt(r) === 'linear' || (opAt(r) === 'conv2d' && unpadded(r));
    if (n.op === 'batchnorm' && !claimed.has(i) && folds && !before.has(r)) {
      before.set(r, i);
      claimed.add(i);
    }
  });
  const partOf = (linear: number): GemmPart => ({
    linear,
    before: before.get(linear) ?? null,
    after: after.get(linear) ?? null,
    ...(nodes[linear]!.op === 'conv2d' && { conv: convGeometry(nodes[linear]!) }),
  });
  const partInput = (p: GemmPart) => inputsOf(nodes[p.before ?? p.linear]!)[0]!;
  const partOutput = (p: GemmPart) => nodes[p.after ?? p.linear]!.output;
  /** The Linear (+ its BatchNorm) making v for the add at `add` alone, or null. */
  const chainedLinear = (v: number, add: number): number | null => {
    const p = producer.get(v);
    if (p === undefined || soleReader(v) !== add) return null;
    if (isHead(nodes[p]!.op) && !after.has(p)) return p;
    return linearBefore.get(p) ?? null;
  };
  const projections = new Map<number, { main: number; projection: number }>();
  nodes.forEach((n, i) => {
    if (n.op !== 'add') return;
    const [a, b] = inputsOf(n).map((v) => chainedLinear(v, i));
    if (a == null || b == null || a === b) return;
    const deeper = depth[partInput(partOf(a))]! >= depth[partInput(partOf(b))]!;
    const [main, projection] = deeper ? [a, b] : [b, a];
    if (nodes[main]!.op !== nodes[projection]!.op) return;
    // The conv kernel reads a projection as a 1×1 window with no padding (torchvision's downsample).
    const g = partOf(projection).conv;
    if (g && (g.kernel[0] !== 1 || g.kernel[1] !== 1 || g.padding.some((p) => p !== 0))) return;
    projections.set(i, { main, projection });
    claimed.add(projection);
  });

  // Exact: the GEMM takes the same [C] means a pool step would have stored. A Linear stacked
  // with another (a projection) keeps its pool step, as does a pool read by anything else.
  const stacked = new Set([...projections.values()].flatMap((p) => [p.main, p.projection]));
  const foldedInto = new Map([...before].map(([linear, bn]) => [bn, linear]));
  const meanPrologue = new Map<number, number>(); // a Linear → the global_avgpool it begins with
  nodes.forEach((n, i) => {
    if (n.op !== 'global_avgpool') return;
    const r = soleReader(n.output);
    const linear = opAt(r) === 'linear' ? r : (foldedInto.get(r) ?? -1);
    if (opAt(linear) !== 'linear' || stacked.has(linear) || partInput(partOf(linear)) !== n.output) return;
    meanPrologue.set(linear, i);
    claimed.add(i);
  });

  const steps: (Omit<AnyStep, 'index' | 'input' | 'shortcut' | 'output'> & { input: number; shortcut: number | null; output: number; last: number })[] = [];
  nodes.forEach((head, h) => {
    if (claimed.has(h) || KINDS[head.op]!.passThrough) return;
    const members = [h];
    const epilogue: Epilogue = { residual: 'none', affine: false, activation: { fn: 'none', slope: 0 } };
    let kind: AnyStepKind = 'elementwise';
    let parts: GemmPart[] = [];
    let input = inputsOf(head)[0]!;
    let shortcut: number | null = null;
    let affine: number | null = null;
    let cur = head.output;
    let stages = { residual: true, affine: true };
    let pool: PoolGeometry | undefined;
    if (isHead(head.op)) {
      kind = head.op === 'linear' ? 'gemm' : 'conv';
      parts = [partOf(h)];
      input = partInput(parts[0]!);
      cur = partOutput(parts[0]!);
      members.push(...[parts[0]!.before, parts[0]!.after].filter((x): x is number => x !== null));
      const pooled = meanPrologue.get(h);
      if (pooled !== undefined) {
        input = inputsOf(nodes[pooled]!)[0]!;
        members.push(pooled);
      }
    } else if (head.op === 'layernorm') {
      kind = 'layernorm';
    } else if (head.op === 'maxpool2d' || head.op === 'avgpool2d' || head.op === 'global_avgpool') {
      kind = 'pool';
      pool = poolGeometry(head);
      stages = { residual: false, affine: false };
    } else if (head.op === 'add') {
      epilogue.residual = 'identity';
      shortcut = inputsOf(head)[1]!;
      stages = { residual: false, affine: true };
    } else if (head.op === 'batchnorm') {
      epilogue.affine = true;
      affine = h;
      stages = { residual: false, affine: false };
    } else if (head.op === 'activation') {
      epilogue.activation = activationOf(head.attrs);
      stages = { residual: false, affine: false };
      cur = -1; // nothing follows an activation inside a step
    } else {
      throw new GraphError(`${KINDS[head.op]!.title} "${head.name}" has no kernel that runs it on its own, and no fusion rule absorbs it here.`);
    }
    const take = (r: number) => {
      claimed.add(r);
      members.push(r);
      cur = nodes[r]!.output;
    };
    if (cur >= 0 && stages.residual) {
      const r = soleReader(cur);
      if (opAt(r) === 'add' && !claimed.has(r)) {
        const pair = projections.get(r);
        if (pair && (kind === 'gemm' || kind === 'conv') && pair.main === h) {
          const p = partOf(pair.projection);
          parts.push(p);
          shortcut = partInput(p);
          epilogue.residual = 'projection';
          members.push(...[p.before, p.linear, p.after].filter((x): x is number => x !== null));
        } else if (!pair) {
          const [a, b] = inputsOf(nodes[r]!);
          shortcut = a === cur ? b! : a!;
          epilogue.residual = 'identity';
        }
        if (epilogue.residual !== 'none') take(r);
      }
    }
    if (cur >= 0 && stages.affine) {
      const r = soleReader(cur);
      if (opAt(r) === 'batchnorm' && !claimed.has(r)) {
        epilogue.affine = true;
        affine = r;
        take(r);
      }
    }
    if (cur >= 0 && epilogue.activation.fn === 'none') {
      const r = soleReader(cur);
      if (opAt(r) === 'activation' && !claimed.has(r)) {
        epilogue.activation = activationOf(nodes[r]!.attrs);
        take(r);
      }
    }
    const out = cur >= 0 ? cur : head.output;
    members.sort((a, b) => a - b);
    const shape = g.values[out]!.shape;
    const features = (v: number) => g.values[v]!.shape.reduce((a, b) => a * b, 1);
    const prologue = meanPrologue.has(h);
    steps.push({
      kind,
      op: (prologue ? 'global_avgpool+' : '') + opName(kind, epilogue, head),
      label: labelOf(head, members.map((i) => nodes[i]!)),
      nodes: members.map((i) => nodes[i]!.name),
      input,
      shortcut,
      output: out,
      parts,
      affine,
      norm: kind === 'layernorm' ? h : null,
      eps: kind === 'layernorm' ? (head.attrs.eps as number) : 0,
      ...(pool && { pool }),
      ...(prologue && { prologue: 'mean_pixels' as const }),
      epilogue,
      // A mean prologue's GEMM reads C means, not the image's C·H·W values.
      inFeatures: prologue ? g.values[input]!.shape[0]! : features(input),
      shortcutFeatures: epilogue.residual === 'projection' ? features(shortcut!) : 0,
      outFeatures: shape.reduce((a, b) => a * b, 1),
      channels: channelsOf(shape),
      last: members[members.length - 1]!,
    });
  });
  if (steps.length === 0 || steps.every((s) => s.output !== output)) {
    // The model returns its input (every node passes it through): one copy step.
    const width = g.values[0]!.shape.reduce((a, b) => a * b, 1);
    const none = { residual: 'none', affine: false, activation: { fn: 'none', slope: 0 } } as const;
    steps.push({ kind: 'elementwise', op: 'copy', label: 'copy', nodes: [], input: 0, shortcut: null, output, parts: [], affine: null, norm: null, eps: 0, epilogue: none, inFeatures: width, shortcutFeatures: 0, outFeatures: width, channels: channelsOf(g.values[0]!.shape), last: nodes.length });
  }
  // A step runs once the last node it computes may: every value it reads is made by a node
  // before that one, hence by a step that ends earlier.
  steps.sort((a, b) => a.last - b.last);
  const renumber = new Map<number, number>([[0, 0]]);
  const values: ValueInfo[] = [{ shape: [...g.values[0]!.shape] }];
  const fused = steps.map(({ last: _, ...s }, index): AnyStep => {
    const id = (v: number) => {
      const n = renumber.get(v);
      if (n === undefined) throw new Error(`resgpu bug: step ${s.label} reads a value no earlier step makes`);
      return n;
    };
    const step = { ...s, index, input: id(s.input), shortcut: s.shortcut === null ? null : id(s.shortcut) };
    values.push({ shape: [...g.values[s.output]!.shape] });
    renumber.set(s.output, index + 1);
    return { ...step, output: index + 1 };
  });
  if (renumber.get(output) !== fused.length) throw new Error('resgpu bug: the last step does not make the model output');
  return { values, steps: fused, output: fused.length };
}

/** The epilogue's columns for a value of this row shape: its channels for an image, its width otherwise. */
const channelsOf = (shape: readonly number[]) => (shape.length === 3 ? shape[0]! : shape.reduce((a, b) => a * b, 1));

function convGeometry(n: OpNode): ConvGeometry {
  const [, , kh, kw] = n.shapes.weight as number[];
  return {
    kernel: [kh!, kw!],
    stride: [...(n.attrs.stride as [number, number])],
    padding: [...(n.attrs.padding as [number, number, number, number])],
    dilation: [...(n.attrs.dilation as [number, number])],
  };
}

function poolGeometry(n: OpNode): PoolGeometry {
  const pair = (key: string, fallback: [number, number]) => (n.attrs[key] === undefined ? fallback : ([...(n.attrs[key] as number[])] as [number, number]));
  return {
    op: n.op as PoolGeometry['op'],
    kernel: pair('kernel', [1, 1]),
    stride: pair('stride', [1, 1]),
    padding: pair('padding', [0, 0]),
    dilation: pair('dilation', [1, 1]),
    countIncludePad: n.attrs.count_include_pad === true,
  };
}

/** The fused operation's name: today's names where they apply, else its parts joined by '+'. */
function opName(kind: AnyStepKind, e: Epilogue, head: OpNode): string {
  const act = e.activation.fn;
  if (kind === 'gemm' && !e.affine) {
    if (e.residual === 'none' && (act === 'none' || act === 'relu')) return act === 'relu' ? 'linear_relu' : 'linear';
    if (e.residual !== 'none' && act === 'relu') return `residual_${e.residual}`;
  }
  // Conv steps never take the linear names: the WebAssembly backend numbers steps by op name.
  const first = { gemm: 'linear', conv: 'conv2d', pool: head.op, layernorm: 'layernorm', elementwise: null }[kind];
  const parts = [first];
  if (e.residual === 'projection') parts.push('projection');
  if (e.residual !== 'none') parts.push('add');
  if (e.affine) parts.push('scale_shift');
  if (act !== 'none') parts.push(act);
  return parts.filter((p) => p !== null).join('+') || 'copy';
}

/** "blocks.0.linear1 (linear + batchnorm + relu)": the step's head node, then what is fused, in graph order. */
function labelOf(head: OpNode, members: OpNode[]): string {
  return `${head.name} (${members.map((n) => KINDS[n.op]!.describe(n)).join(' + ')})`;
}
