import { GraphError, InputError } from '../errors.js';
import { KINDS } from './kinds/registry.js';
import type { OpGraph, ValueInfo } from './op-graph.js';

/**
 * The same graph for another input row shape: every value's shape computed again by its node's
 * kind, the nodes and their tensors shared, not copied. What lets an image network run at a
 * size other than the one it was loaded with (`run(x, { inputShape })`): convolutions and pools
 * take any size their windows fit, and a global average pool makes the head's width independent
 * of it. A network whose Linear reads a flattened image accepts one size only; it is refused here,
 * with the node's own shape message, before any backend plans anything.
 */
export function reshapeGraph(g: OpGraph, inputShape: readonly number[]): OpGraph {
  const before = g.values[0]!.shape;
  if (inputShape.length !== before.length || (before.length === 3 && inputShape[0] !== before[0])) {
    throw new InputError(
      `run({ inputShape: [${inputShape.join(', ')}] }): this model takes rows of [${before.join(', ')}]; ` +
        (before.length === 3 ? `another image size must keep its ${before[0]} channels ([${before[0]}, H, W]).` : 'only image models ([C, H, W]) run at another size.'),
    );
  }
  const values: ValueInfo[] = [{ name: g.values[0]!.name, shape: [...inputShape] }];
  try {
    for (const n of g.nodes) {
      const kind = KINDS[n.op]!;
      const { output, params } = kind.shapes({ where: `${kind.title} "${n.name}"`, inputs: n.inputs.map((v) => values[v]!.shape), attrs: n.attrs, tensors: n.shapes });
      // Weight shapes never depend on the image size; a kind saying otherwise would need new weights.
      for (const [role, want] of Object.entries(params)) {
        if (n.shapes[role] && want.shape.join() !== n.shapes[role].join()) throw new GraphError(`${kind.title} "${n.name}" would need a ${role} of [${want.shape.join(', ')}] (${want.why})`);
      }
      values[n.output] = { name: g.values[n.output]!.name, shape: output };
    }
  } catch (e) {
    if (!(e instanceof GraphError)) throw e;
    throw new InputError(`run({ inputShape: [${inputShape.join(', ')}] }) does not fit this model: ${e.message}`);
  }
  return { ...g, values, golden: undefined };
}

/** The key of a row shape in plan caches: "3x224x224". */
export const shapeKey = (shape: readonly number[]): string => shape.join('x');

/** The graph without its tensors: enough to plan any input size, without holding the file's bytes. */
export const shapesOnly = (g: OpGraph): OpGraph => ({ ...g, nodes: g.nodes.map((n) => ({ ...n, tensors: {} })), golden: undefined });
