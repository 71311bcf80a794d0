import { activation } from './activation.js';
import { add } from './add.js';
import { batchnorm } from './batchnorm.js';
import type { NodeKind } from './kind.js';
import { layernorm } from './layernorm.js';
import { linear } from './linear.js';
import { dropout, flatten, identity } from './pass-through.js';

/** Every node kind resgpu knows, by op name: the one table a manifest's `op` is looked up in. */
export const KINDS: Readonly<Record<string, NodeKind>> = Object.fromEntries(
  [linear, batchnorm, layernorm, activation, add, dropout, identity, flatten].map((k) => [k.op, k]),
);

export function kindOf(op: string): NodeKind {
  const kind = KINDS[op];
  if (!kind) throw new Error(`resgpu bug: no node kind "${op}"`);
  return kind;
}
