import { KINDS } from '../../graph/kinds/registry.js';
import type { OpGraph } from '../../graph/op-graph.js';

/**
 * The CPU reference: the op graph run node by node, unfused, in float64, each node by its
 * kind's own reference (graph/kinds/), BatchNorm applied from its running statistics rather than
 * folded. It is the oracle of the kernels and of the fusion pass, and the baseline the
 * benchmarks compare with, so it stays plain and obvious; speed is not its job.
 */
export function referenceForward(graph: OpGraph, x: ArrayLike<number>, rows: number): Float64Array {
  const values: (Float64Array | undefined)[] = [Float64Array.from(x)];
  // Each value is dropped after its last reader, so memory stays at the widest few values.
  const lastRead = new Map<number, number>();
  graph.nodes.forEach((n, i) => n.inputs.forEach((v) => lastRead.set(v, i)));
  graph.nodes.forEach((n, i) => {
    const inputs = n.inputs.map((v) => values[v]!);
    values[n.output] = KINDS[n.op]!.reference(n, inputs, rows, n.inputs.map((v) => graph.values[v]!.shape));
    for (const v of n.inputs) if (lastRead.get(v) === i && v !== graph.output) values[v] = undefined;
  });
  return values[graph.output]!;
}
