import { afterEach, expect, test } from 'vitest';
import { encodeSafetensors, GRAPH_METADATA_KEY, loadModel } from '../src/index.js';
import { fuseAnyGraph as fuseGraph } from '../src/graph/fuse.js';
import { streamModel } from '../src/loader/index.js';
import type { TensorToWrite } from '../src/loader/safetensors-writer.js';
import { wasmTuning } from '../src/runtime/wasm/wasm-model.js';
import { expectClose } from './helpers/compare.js';
import { randomInput, rng } from './helpers/random-model.js';

/**
 * backend: 'wasm' on an op graph (manifest v2) built so that the fusion pass makes every step
 * kind and epilogue the families do not: a LayerNorm with GELU fused, then an elementwise step
 * (add + unfolded BatchNorm + tanh), a standalone sigmoid, a LayerNorm without affine parameters,
 * a LeakyReLU after a Linear with an identity residual, at widths off the panel size. Against the
 * float64 'cpu' backend, at the usual tolerance (compare.ts), on 1 and 2 threads, rows 1 to 17.
 */
const defaultTuning = { ...wasmTuning };
afterEach(() => Object.assign(wasmTuning, defaultTuning));

const [IN, H] = [13, 37];

function makeGraphModel(): Uint8Array {
  const r = rng(5);
  const tensors: TensorToWrite[] = [];
  const tensor = (name: string, shape: number[], f = () => r() * 2 - 1) => {
    tensors.push({ name, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, f) });
    return name;
  };
  const linear = (name: string, inputs: string[], output: string, out: number, inF: number) => ({
    op: 'linear', name, inputs, output, params: { weight: tensor(`${name}.weight`, [out, inF], () => (r() * 2 - 1) / Math.sqrt(inF)), bias: tensor(`${name}.bias`, [out]) },
  });
  const nodes = [
    linear('lin0', ['x'], 'h0', H, IN),
    { op: 'layernorm', name: 'ln0', inputs: ['h0'], output: 'n0', params: { weight: tensor('ln0.weight', [H], () => 0.5 + r()), bias: tensor('ln0.bias', [H]) }, attrs: { eps: 1e-5 } },
    { op: 'activation', name: 'gelu0', inputs: ['n0'], output: 'g0', attrs: { fn: 'gelu' } },
    { op: 'add', name: 'add0', inputs: ['h0', 'g0'], output: 's0' },
    {
      op: 'batchnorm', name: 'bn0', inputs: ['s0'], output: 'b0',
      params: { weight: tensor('bn0.weight', [H]), bias: tensor('bn0.bias', [H]), running_mean: tensor('bn0.running_mean', [H]), running_var: tensor('bn0.running_var', [H], () => 0.5 + r()) },
      attrs: { eps: 1e-5 },
    },
    { op: 'activation', name: 'tanh0', inputs: ['b0'], output: 't0', attrs: { fn: 'tanh' } },
    { op: 'activation', name: 'sig0', inputs: ['t0'], output: 'q0', attrs: { fn: 'sigmoid' } },
    { op: 'layernorm', name: 'ln1', inputs: ['q0'], output: 'n1', attrs: { eps: 1e-3 } },
    linear('lin1', ['n1'], 'h1', H, H),
    { op: 'add', name: 'add1', inputs: ['h1', 'q0'], output: 's1' },
    { op: 'activation', name: 'leaky1', inputs: ['s1'], output: 'l1', attrs: { fn: 'leaky_relu', negative_slope: 0.2 } },
    { op: 'activation', name: 'silu1', inputs: ['l1'], output: 'u1', attrs: { fn: 'silu' } },
    linear('head', ['u1'], 'y', 3, H),
  ];
  const manifest = { format: 'resgpu-graph', version: 2, inputs: [{ name: 'x', shape: [IN] }], outputs: ['y'], nodes };
  return encodeSafetensors(tensors, { [GRAPH_METADATA_KEY]: JSON.stringify(manifest) });
}

test('the fusion pass makes layernorm, elementwise and gemm steps of this graph', async () => {
  const stream = streamModel(makeGraphModel());
  const steps = fuseGraph(await stream.shapes).steps.map((s) => `${s.kind} ${s.op}`);
  await stream.finished;
  for (const kind of ['gemm', 'layernorm', 'elementwise']) expect(steps.some((o) => o.startsWith(kind))).toBe(true);
});

test.each([1, 2])('matches the float64 reference on %i thread(s), rows 1 to 17', async (threads) => {
  wasmTuning.minFlopsForThreads = 0;
  const bytes = makeGraphModel();
  const wasm = await loadModel(bytes, { backend: 'wasm', threads });
  const cpu = await loadModel(bytes, { backend: 'cpu' });
  for (const rows of [1, 2, 3, 5, 8, 17]) {
    const x = randomInput(rows, IN, rows);
    expectClose(await wasm.run(x), await cpu.run(x));
  }
  await wasm.dispose();
  await cpu.dispose();
});
