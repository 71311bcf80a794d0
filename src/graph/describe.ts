import { fuseGraph } from './fuse.js';
import type { LayerDescription, OpGraph } from './op-graph.js';
import { rowSize } from './op-graph.js';

/**
 * The layer list of describe(), the same on every backend: a version-1 graph's layers as its
 * manifest grouped them; otherwise one entry per node that holds tensors (Linear, LayerNorm,
 * BatchNorm), a Linear listing the BatchNorms the fusion pass folds into it (before and after).
 */
export function describeLayers(graph: OpGraph): LayerDescription[] {
  if (graph.layers) return graph.layers;
  const folded = new Map<number, string[]>();
  let steps: ReturnType<typeof fuseGraph>['steps'] = [];
  try {
    steps = fuseGraph(graph).steps;
  } catch {
    // A graph no backend fuses (the reference still runs it): nothing is folded.
  }
  for (const p of steps.flatMap((s) => s.parts)) {
    folded.set(p.linear, [p.before, p.after].filter((b): b is number => b !== null).map((b) => graph.nodes[b]!.name));
  }
  return graph.nodes.flatMap((n, i) =>
    Object.keys(n.params).length === 0
      ? []
      : [
          {
            name: n.name,
            type: n.op,
            inFeatures: rowSize(graph.values[n.inputs[0]!]!.shape),
            outFeatures: rowSize(graph.values[n.output]!.shape),
            foldedBatchNorms: folded.get(i) ?? [],
          },
        ],
  );
}
