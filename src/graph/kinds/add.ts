import { GraphError } from '../../errors.js';
import { onlyAttrs, type NodeKind } from './kind.js';

/** The residual add: y = a + b, two values of the same shape (no broadcasting). */
export const add: NodeKind = {
  op: 'add',
  title: 'Add',
  arity: 2,
  params: { required: [], optional: [] },
  attrs(raw) {
    onlyAttrs(raw, []);
    return {};
  },
  shapes(q) {
    const [a, b] = q.inputs as [number[], number[]];
    if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
      throw new GraphError(`${q.where} adds values of shapes [${a.join(', ')}] and [${b.join(', ')}]; the two branches of a residual add must have the same shape.`);
    }
    return { output: [...a], params: {} };
  },
  reference: (_, [a, b]) => a!.map((v, i) => v + b![i]!),
  describe: () => 'add',
};
