/**
 * TEMPORARY ADAPTER — DELETE THIS FILE once the loader on main consumes manifest version 2
 * (issue 16, item 5): then onnx/index.ts hands `parseOnnx`'s v2 manifest to the loader as it is.
 *
 * The loader on this branch reads version 1 only (linear layers and residual blocks), so an
 * ONNX op graph of the seed's family (linear, batchnorm after a linear, relu, the residual add,
 * identity/dropout/flatten) is reduced back to those layers here, exactly as the ONNX import
 * did before it produced op graphs. A graph v1 cannot express (LayerNorm, GELU, a BatchNorm
 * that follows no linear, pre-norm blocks, ...) is refused with a GraphError naming the node.
 */
import { GraphError } from '../../errors.js';
import { DEFAULT_BATCHNORM_EPS } from '../../graph/spec.js';
import type { GraphManifest, ManifestLayer } from '../manifest.js';
import type { GraphManifestV2, ManifestNode } from '../manifest-v2.js';
import type { TensorMap } from '../tensors.js';

/** A value of the op graph, as an expression over the model input. */
type Expr =
  | { op: 'input' }
  | { op: 'dense'; src: Expr; linear: string; bn: string | null; relu: boolean; node: string }
  | { op: 'add'; a: Expr; b: Expr; node: string }
  | { op: 'relu'; src: Expr; node: string };

export function v2ToV1(m: GraphManifestV2, tensors: TensorMap): GraphManifest {
  const values = new Map<string, Expr>([[m.inputs[0].name, { op: 'input' }]]);
  let eps: number | null = null;
  const refuse = (n: ManifestNode, why: string): never => {
    throw new GraphError(`This ONNX graph cannot run on resgpu yet: node ${n.name ?? n.output} (${describe(n)}) ${why}; this version runs linear layers and residual blocks.`);
  };
  /** A v1 layer names a prefix `p` whose tensors are `p.weight`, `p.bias`, ...; the importer names them so. */
  const prefix = (n: ManifestNode, roles: string[]) => {
    const p = n.params!.weight!.replace(/\.weight$/, '');
    const ok = Object.entries(n.params!).every(([k, v]) => roles.includes(k) && v === `${p}.${k}`) && tensors.has(`${p}.weight`);
    return ok ? p : refuse(n, 'names its tensors in a way version 1 cannot');
  };
  for (const n of m.nodes) {
    const src = values.get(n.inputs[0] ?? '') ?? refuse(n, 'reads a value it cannot follow');
    let out: Expr;
    if (n.op === 'linear') {
      out = { op: 'dense', src, linear: prefix(n, ['weight', 'bias']), bn: null, relu: false, node: n.name ?? n.output };
    } else if (n.op === 'batchnorm') {
      if (src.op !== 'dense' || src.bn || src.relu) refuse(n, 'follows no linear layer');
      const e = Number(n.attrs?.eps ?? DEFAULT_BATCHNORM_EPS);
      if (eps !== null && Math.abs(e - eps) > 1e-12) refuse(n, `has epsilon ${e}, another BatchNormalization ${eps}; version 1 has one epsilon`);
      eps = e;
      out = { ...(src as Extract<Expr, { op: 'dense' }>), bn: prefix(n, ['weight', 'bias', 'running_mean', 'running_var']) };
    } else if (n.op === 'activation' && n.attrs?.fn === 'relu') {
      if (src.op === 'dense' && !src.relu) out = { ...src, relu: true };
      else if (src.op === 'add') out = { op: 'relu', src, node: n.name ?? n.output };
      else out = src.op === 'relu' ? src : refuse(n, 'follows neither a linear layer nor a residual add');
    } else if (n.op === 'add') {
      out = { op: 'add', a: src, b: values.get(n.inputs[1] ?? '') ?? refuse(n, 'reads a value it cannot follow'), node: n.name ?? n.output };
    } else if (n.op === 'identity' || n.op === 'dropout' || n.op === 'flatten') {
      out = src;
    } else {
      out = refuse(n, 'is not expressible in manifest version 1');
    }
    values.set(n.output, out);
  }
  const result = values.get(m.outputs[0])!;
  return {
    format: 'resgpu-graph',
    version: 1,
    input: m.inputs[0].shape[0]!,
    layers: toLayers(result),
    batchnorm_eps: eps ?? DEFAULT_BATCHNORM_EPS,
    input_names: [m.inputs[0].name],
    output_names: [m.outputs[0]],
  };
}

const describe = (n: ManifestNode) => (n.op === 'activation' ? `activation ${String(n.attrs?.fn)}` : n.op);

/** Reads the expression back as layers, from the input on. */
function toLayers(e: Expr): ManifestLayer[] {
  const out: ManifestLayer[] = [];
  for (let cur = e; cur.op !== 'input'; ) {
    if (cur.op === 'dense') {
      out.unshift({ type: 'linear', linear: cur.linear, bn: cur.bn, activation: cur.relu ? 'relu' : 'none' });
      cur = cur.src;
      continue;
    }
    const block = cur.op === 'relu' && cur.src.op === 'add' ? matchBlock(cur.src.a, cur.src.b) ?? matchBlock(cur.src.b, cur.src.a) : null;
    if (!block) throw new GraphError(`This ONNX graph cannot run on resgpu yet: it does not reduce to linear layers and residual blocks (at node ${cur.node}).`);
    out.unshift(block.layer);
    cur = block.input;
  }
  return out;
}

/** relu(main + shortcut) with main = dense2(relu(dense1(x))) and shortcut = x or dense(x). */
function matchBlock(main: Expr, shortcut: Expr): { layer: ManifestLayer; input: Expr } | null {
  if (main.op !== 'dense' || main.relu || main.src.op !== 'dense' || !main.src.relu) return null;
  const h = main.src;
  const x = h.src;
  const projection = shortcut.op === 'dense' && !shortcut.relu && shortcut.src === x ? shortcut : null;
  if (shortcut !== x && !projection) return null;
  return {
    input: x,
    layer: {
      type: 'residual_block',
      linear1: h.linear,
      bn1: h.bn,
      linear2: main.linear,
      bn2: main.bn,
      shortcut: projection?.linear ?? null,
      shortcut_bn: projection?.bn ?? null,
    },
  };
}
