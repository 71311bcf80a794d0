import { rowSize } from '../op-graph.js';
import { onlyAttrs, type NodeKind } from './kind.js';

/**
 * Nodes that eval mode reduces to the identity: dropout and identity, and flatten, which only
 * reshapes the row ([C, H, W] → [C·H·W]; a row of features stays as it is). The fusion pass
 * drops them; the reference copies.
 */
function passThrough(op: string, reshape: (shape: number[]) => number[]): NodeKind {
  return {
    op,
    title: op[0]!.toUpperCase() + op.slice(1),
    arity: 1,
    params: { required: [], optional: [] },
    passThrough: true,
    attrs(raw) {
      // torch exports dropout's p; eval mode ignores it.
      onlyAttrs(raw, op === 'dropout' ? ['p'] : []);
      return {};
    },
    shapes: (q) => ({ output: reshape(q.inputs[0]!), params: {} }),
    reference: (_, [x]) => Float64Array.from(x!),
    describe: () => op,
  };
}

export const dropout = passThrough('dropout', (s) => [...s]);
export const identity = passThrough('identity', (s) => [...s]);
export const flatten = passThrough('flatten', (s) => [rowSize(s)]);
