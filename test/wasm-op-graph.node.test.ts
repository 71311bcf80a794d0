import { afterEach, describe, test } from 'vitest';
import { loadModel } from '../src/index.js';
import { streamModel } from '../src/loader/index.js';
import { referenceForward } from '../src/runtime/reference/forward.js';
import { wasmTuning } from '../src/runtime/wasm/wasm-model.js';
import { expectClose } from './helpers/compare.js';
import { ACTIVATIONS, actName, FAMILIES, makeRandomGraph } from './helpers/random-graph.js';
import { randomInput } from './helpers/random-model.js';

/**
 * The op graph's correctness matrix (test/op-graph.node.test.ts) on backend: 'wasm': every
 * random-graph family × every activation, on 1 and 2 threads (every run threaded), at batches
 * 1, 5 and 17, against the float64 reference that runs the graph unfused, at the usual tolerance
 * (compare.ts).
 */
const defaultTuning = { ...wasmTuning };
afterEach(() => Object.assign(wasmTuning, defaultTuning));

describe.each(FAMILIES)('%s', (family) => {
  test.each(ACTIVATIONS.map((a) => [actName(a), a] as const))('%s: matches the reference on 1 and 2 threads', async (_, act) => {
    wasmTuning.minFlopsForThreads = 0;
    const m = makeRandomGraph(family, act);
    const graph = await streamModel(m.bytes).complete();
    for (const threads of [1, 2]) {
      const model = await loadModel(m.bytes, { backend: 'wasm', threads });
      for (const batch of [1, 5, 17]) {
        const x = randomInput(batch, m.inputSize, batch);
        expectClose(await model.run(x), referenceForward(graph, x, batch));
      }
      await model.dispose();
    }
  });
});
