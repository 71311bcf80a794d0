import { activation } from './activation.js';
import { add } from './add.js';
import { avgpool2d } from './avgpool2d.js';
import { batchnorm } from './batchnorm.js';
import { conv2d } from './conv2d.js';
import { globalAvgpool } from './global-avgpool.js';
import type { NodeKind } from './kind.js';
import { layernorm } from './layernorm.js';
import { linear } from './linear.js';
import { maxpool2d } from './maxpool2d.js';
import { dropout, flatten, identity } from './pass-through.js';

/** Every node kind resgpu knows, by op name: the one table a manifest's `op` is looked up in. */
export const KINDS: Readonly<Record<string, NodeKind>> = Object.fromEntries(
  [linear, batchnorm, layernorm, activation, add, dropout, identity, flatten, conv2d, maxpool2d, avgpool2d, globalAvgpool].map((k) => [k.op, k]),
);

export function kindOf(op: string): NodeKind {
  const kind = KINDS[op];
  if (!kind) throw new Error(`resgpu bug: no node kind "${op}"`);
  return kind;
}
