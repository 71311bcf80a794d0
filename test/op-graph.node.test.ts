import { beforeAll, describe, expect, test } from 'vitest';
import { loadModel, type KernelVariant } from '../src/index.js';
import type { OpGraph } from '../src/graph/op-graph.js';
import { KERNEL_FAMILIES } from '../src/kernels/registry.js';
import { streamModel } from '../src/loader/index.js';
import { referenceForward } from '../src/runtime/reference/forward.js';
import { expectClose } from './helpers/compare.js';
import { fusedForward, halfWeightsForward } from './helpers/fused-reference.js';
import { nodeDevice } from './helpers/node-gpu.js';
import { ACTIVATIONS, actName, FAMILIES, makeRandomGraph, type Act, type GraphFamily } from './helpers/random-graph.js';
import { randomInput } from './helpers/random-model.js';

/**
 * The correctness matrix of the op graph on WebGPU (SwiftShader), against the float64 reference
 * that runs the graph unfused (so the fusion pass is checked too):
 *  - every family × every activation, in the dispatch counts the fusion must reach;
 *  - every GEMM kernel forced × f32/f16 × every activation, on a model whose GEMM epilogue
 *    applies it, and × every residual form (identity, projection, scale and shift after an add).
 * Pipelines are compiled per kernel and epilogue (SwiftShader compiles slowly), so the matrix
 * crosses activations with kernels on one step shape, and residual forms with kernels on one
 * activation: each epilogue stage is independent code in shaders/epilogue.wgsl.
 */
let device: GPUDevice;
beforeAll(async () => {
  device = await nodeDevice();
});

const VARIANTS = Object.keys(KERNEL_FAMILIES) as KernelVariant[];
const BATCHES = [1, 5, 17];

async function expectMatrix(family: GraphFamily | 'probe', act: Act, kernels: KernelVariant[], precisions: ('f32' | 'f16')[]) {
  const m = makeRandomGraph(family, act);
  const graph: OpGraph = await streamModel(m.bytes).complete();
  for (const kernel of kernels) {
    for (const precision of precisions) {
      const model = await loadModel(m.bytes, { device, kernel, precision });
      expect(model.describe().dispatches, `${kernel} ${precision}`).toHaveLength(m.dispatches);
      for (const batch of BATCHES.filter((b) => b <= KERNEL_FAMILIES[kernel][precision].maxRows)) {
        const x = randomInput(batch, m.inputSize, batch);
        const expected = precision === 'f32' ? referenceForward(graph, x, batch) : halfWeightsForward(graph, x, batch);
        expectClose(await model.run(x), expected);
      }
      await model.dispose();
    }
  }
}

describe.each(FAMILIES)('%s', (family) => {
  test.each(ACTIVATIONS.map((a) => [actName(a), a] as const))('%s: the fused steps match the unfused graph, on WebGPU too', async (_, act) => {
    const m = makeRandomGraph(family, act);
    const graph = await streamModel(m.bytes).complete();
    const x = randomInput(5, m.inputSize, 11);
    // The fusion pass against the unfused reference, both float64: equal but for rounding.
    expectClose(fusedForward(graph, x, 5), referenceForward(graph, x, 5), 1e-12);
    // describe() names every op node once, in the dispatch that computes it (dropout vanishes).
    const model = await loadModel(m.bytes, { device });
    const named = model.describe().dispatches.flatMap((d) => d.nodes);
    expect(named.sort()).toEqual(graph.nodes.filter((n) => n.op !== 'dropout').map((n) => n.name).sort());
    await model.dispose();
    await expectMatrix(family, act, ['gemm'], ['f32']);
  });
});

describe.each(VARIANTS)('%s forced', (kernel) => {
  test.each(ACTIVATIONS.map((a) => [actName(a), a] as const))('%s in the GEMM epilogue, f32 and f16 weights', async (_, act) => {
    await expectMatrix('probe', act, [kernel], ['f32', 'f16']);
  });
  test.each(['prenorm', 'postnorm'] as const)('every residual form of %s, f32 and f16 weights', async (family) => {
    await expectMatrix(family, ACTIVATIONS[0]!, [kernel], ['f32', 'f16']);
  });
});
