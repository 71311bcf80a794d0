import type { GraphManifestV2 } from '../../src/index.js';
import { graphBuilder } from './graph-builder.js';

/**
 * Random op-graph models (manifest version 2), made in TypeScript, for every residual family
 * and every activation: the correctness matrix runs each on every kernel. Widths are odd, so
 * padding is always exercised; BatchNorm statistics, affines and LayerNorm affines are random.
 */
export type GraphFamily = 'prenorm' | 'postnorm' | 'prenorm_ln' | 'unfused';
export type Act = { fn: string; negative_slope?: number; approximate?: string };

export const FAMILIES: GraphFamily[] = ['prenorm', 'postnorm', 'prenorm_ln', 'unfused'];
export const ACTIVATIONS: Act[] = [
  { fn: 'relu' },
  { fn: 'leaky_relu', negative_slope: 0.2 },
  { fn: 'gelu' },
  { fn: 'gelu', approximate: 'tanh' },
  { fn: 'silu' },
  { fn: 'sigmoid' },
  { fn: 'tanh' },
];
export const actName = (a: Act) => (a.approximate === 'tanh' ? 'gelu_tanh' : a.fn);

export interface RandomGraph {
  bytes: Uint8Array;
  manifest: GraphManifestV2;
  inputSize: number;
  outputSize: number;
  /** What the fusion pass must make of it. */
  dispatches: number;
}

export function makeRandomGraph(family: GraphFamily | 'probe', act: Act, seed = 3): RandomGraph {
  const { tensor, node, linear, batchnorm, add, encode } = graphBuilder(seed);
  const layernorm = (name: string, x: string, n: number, affine = true) =>
    node('layernorm', name, [x], affine ? { weight: tensor(`${name}.weight`, [n], 0.5, 1.5), bias: tensor(`${name}.bias`, [n], -0.5, 0.5) } : {}, { eps: 1e-5 });
  const activation = (name: string, x: string) => node('activation', name, [x], {}, { ...act });

  const [input, d, hidden, out] = [13, 21, 37, 3];
  let x = 'x';
  let dispatches = 0;
  if (family === 'probe') {
    // One GEMM step whose epilogue applies the activation, then a plain one.
    x = linear('head', activation('act', linear('first', x, input, d)), d, out);
    dispatches = 2;
  } else if (family === 'prenorm') {
    // rtdl: first Linear; x + Linear1(act(Linear0(BatchNorm(x)))); head BatchNorm → act → Linear.
    x = linear('first', x, input, d);
    for (let i = 0; i < 2; i++) x = add(`b${i}.add`, x, linear(`b${i}.linear1`, node('dropout', `b${i}.drop`, [activation(`b${i}.act`, linear(`b${i}.linear0`, batchnorm(`b${i}.norm`, x, d), d, hidden))]), hidden, d));
    x = linear('head', activation('head.act', batchnorm('head.norm', x, d)), d, out);
    dispatches = 1 + 2 * 2 + 1;
  } else if (family === 'postnorm') {
    // widedeep: bias-free Linears, BatchNorm after each, act; a resize shortcut where widths change.
    x = activation('stem.act', batchnorm('stem.bn', linear('stem', x, input, d, false), d));
    for (const [i, w] of [[0, d], [1, d + 8]] as const) {
      const from = d;
      const h = activation(`b${i}.act1`, batchnorm(`b${i}.bn1`, linear(`b${i}.lin1`, x, from, w, false), w));
      const main = batchnorm(`b${i}.bn2`, linear(`b${i}.lin2`, h, w, w, false), w);
      const shortcut = w === from ? x : batchnorm(`b${i}.resize.1`, linear(`b${i}.resize.0`, x, from, w, false), w);
      x = activation(`b${i}.act2`, add(`b${i}.add`, main, shortcut));
    }
    x = linear('head', x, d + 8, out);
    dispatches = 1 + 2 * 2 + 1;
  } else if (family === 'prenorm_ln') {
    // x + Linear2(act(Linear1(LayerNorm(x)))); a final LayerNorm; a head.
    x = linear('first', x, input, d);
    for (let i = 0; i < 2; i++) x = add(`b${i}.add`, x, linear(`b${i}.linear2`, activation(`b${i}.act`, linear(`b${i}.linear1`, layernorm(`b${i}.norm`, x, d), d, hidden)), hidden, d));
    x = linear('head', layernorm('final', x, d), d, out);
    dispatches = 1 + 3 * 2 + 1 + 1;
  } else {
    // What no rule fuses: a BatchNorm after an activation, an add of two activations, a
    // LayerNorm without affine followed by an activation, an activation of the input.
    const a = activation('a.act', linear('a', activation('in.act', x), input, d));
    const b = activation('b.act', linear('b', x, input, d));
    const bn = activation('bn.act', batchnorm('bn', a, d));
    x = layernorm('ln', add('sum', bn, b), d, false);
    x = linear('head', activation('ln.act', x), d, out);
    // in.act; a (+act); b (+act); bn (+act); sum; ln (+act); head.
    dispatches = 7;
  }
  const { bytes, manifest } = encode([input], x);
  return { bytes, manifest, inputSize: input, outputSize: out, dispatches };
}
