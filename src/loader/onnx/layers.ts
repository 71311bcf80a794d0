import type { ManifestLayer } from '../manifest.js';

/** An activation value of the ONNX graph, as an expression over the model input. */
export type Expr =
  | { op: 'input'; width: number }
  | { op: 'dense'; src: Expr; width: number; linear: string; hasBias: boolean; bn: string | null; relu: boolean; node: string }
  | { op: 'add'; a: Expr; b: Expr; width: number; node: string }
  | { op: 'relu'; src: Expr; width: number; node: string };

export type DenseExpr = Extract<Expr, { op: 'dense' }>;

/** Reads the expression back as layers, from the input on. */
export function toLayers(e: Expr, problems: string[]): ManifestLayer[] {
  const out: ManifestLayer[] = [];
  for (let cur = e; cur.op !== 'input'; ) {
    if (cur.op === 'dense') {
      out.unshift({ type: 'linear', linear: cur.linear, bn: cur.bn, activation: cur.relu ? 'relu' : 'none' });
      cur = cur.src;
      continue;
    }
    const block = cur.op === 'relu' && cur.src.op === 'add' ? matchBlock(cur.src.a, cur.src.b) ?? matchBlock(cur.src.b, cur.src.a) : null;
    if (!block) {
      problems.push(`the graph does not reduce to linear layers and residual blocks (at node ${cur.node})`);
      return [];
    }
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
