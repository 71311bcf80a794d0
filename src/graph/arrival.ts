import type { OpGraph, OpNode } from './op-graph.js';
import type { AnyStep } from './steps.js';

/** The op nodes whose tensors a step needs. */
export function nodesOf(step: AnyStep): number[] {
  const all = [...step.parts.flatMap((p) => [p.linear, p.before, p.after]), step.affine, step.norm];
  return [...new Set(all.filter((i): i is number => i !== null))];
}

/**
 * Hands each step of the fused model to `visit`, with the op graph's nodes holding the tensors it
 * needs, as soon as they have all arrived; lets go of each node's tensors (the file's bytes) once
 * every step that reads them has been visited. How every backend packs weights while a file streams.
 */
export async function forEachStepAsNodesArrive<S extends AnyStep>(
  model: { shapes: Promise<OpGraph>; node(i: number): Promise<OpNode> },
  fused: { steps: S[] },
  visit: (step: S, nodes: readonly OpNode[]) => void,
): Promise<void> {
  const graph = await model.shapes;
  const nodes: OpNode[] = [...graph.nodes];
  const readers = new Array<number>(nodes.length).fill(0);
  fused.steps.forEach((s) => nodesOf(s).forEach((n) => readers[n]!++));
  const waiting = new Map(fused.steps.map((s) => [s.index, new Set(nodesOf(s))]));
  const stepsOf = new Map<number, S[]>();
  fused.steps.forEach((s) => nodesOf(s).forEach((n) => stepsOf.set(n, [...(stepsOf.get(n) ?? []), s])));
  const ready = (step: S) => {
    visit(step, nodes);
    waiting.delete(step.index);
    for (const n of nodesOf(step)) if (--readers[n]! === 0) nodes[n] = graph.nodes[n]!; // the shapes-only node: its data can go
  };
  for (const s of fused.steps) if (waiting.get(s.index)!.size === 0) ready(s);
  for (let i = 0; i < nodes.length; i++) {
    if (!stepsOf.has(i)) continue;
    nodes[i] = await model.node(i);
    for (const s of stepsOf.get(i)!) {
      const missing = waiting.get(s.index);
      if (!missing) continue;
      missing.delete(i);
      if (missing.size === 0) ready(s);
    }
  }
}
