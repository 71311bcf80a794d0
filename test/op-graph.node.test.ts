import { beforeAll, describe, expect, test } from 'vitest';
import { loadModel, type KernelVariant } from '../src/index.js';
import { KERNEL_FAMILIES } from '../src/kernels/registry.js';
import { streamModel } from '../src/loader/index.js';
import { referenceForward } from '../src/runtime/reference/forward.js';
import { expectClose } from './helpers/compare.js';
import { fusedForward, halfWeightsForward } from './helpers/fused-reference.js';
import { nodeDevice } from './helpers/node-gpu.js';
import { ACTIVATIONS, actName, FAMILIES, makeRandomGraph } from './helpers/random-graph.js';
import { randomInput } from './helpers/random-model.js';

/**
 * The correctness matrix of the op graph: every family × every activation × every GEMM kernel
 * forced × f32/f16, on WebGPU (SwiftShader), against the float64 reference that runs the graph
 * unfused (so the fusion pass is checked too), with the dispatch counts the fusion must reach.
 */
let device: GPUDevice;
beforeAll(async () => {
  device = await nodeDevice();
});

const VARIANTS = Object.keys(KERNEL_FAMILIES) as KernelVariant[];
const BATCHES = [1, 5, 17];

describe.each(FAMILIES)('%s', (family) => {
  test.each(ACTIVATIONS.map((a) => [actName(a), a] as const))('%s: every kernel × precision matches the reference, in the expected dispatches', async (_, act) => {
    const m = makeRandomGraph(family, act);
    const graph = await streamModel(m.bytes).complete();
    // The fusion pass against the unfused reference, in float64: exact but for rounding.
    const x = randomInput(5, m.inputSize, 11);
    expectClose(fusedForward(graph, x, 5), referenceForward(graph, x, 5), 1e-12);
    for (const kernel of VARIANTS) {
      for (const precision of ['f32', 'f16'] as const) {
        const model = await loadModel(m.bytes, { device, kernel, precision });
        expect(model.describe().dispatches, `${kernel} ${precision}`).toHaveLength(m.dispatches);
        for (const batch of BATCHES.filter((b) => b <= KERNEL_FAMILIES[kernel][precision].maxRows)) {
          const xb = randomInput(batch, m.inputSize, batch);
          const expected = precision === 'f32' ? referenceForward(graph, xb, batch) : halfWeightsForward(graph, xb, batch);
          expectClose(await model.run(xb), expected);
        }
        await model.dispose();
      }
    }
  });
});
