import type { LayerDescription, OpGraph } from './op-graph.js';
import { rowSize } from './op-graph.js';

/**
 * The layer list of describe(), the same on every backend: a version-1 graph's layers as its
 * manifest grouped them; otherwise one entry per node that holds tensors (Linear, LayerNorm,
 * BatchNorm), a Linear listing the BatchNorm that reads its output.
 */
export function describeLayers(graph: OpGraph): LayerDescription[] {
  if (graph.layers) return graph.layers;
  const batchNormAfter = new Map<number, string>();
  for (const n of graph.nodes) if (n.op === 'batchnorm') batchNormAfter.set(n.inputs[0]!, n.name);
  return graph.nodes
    .filter((n) => Object.keys(n.params).length > 0)
    .map((n) => ({
      name: n.name,
      type: n.op,
      inFeatures: rowSize(graph.values[n.inputs[0]!]!.shape),
      outFeatures: rowSize(graph.values[n.output]!.shape),
      foldedBatchNorms: n.op === 'linear' && batchNormAfter.has(n.output) ? [batchNormAfter.get(n.output)!] : [],
    }));
}
