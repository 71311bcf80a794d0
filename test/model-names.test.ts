import { expect, test } from 'vitest';
import { encodeSafetensors, GRAPH_METADATA_KEY, loadModel, ModelFormatError } from '../src/index.js';
import { nodeGpu } from './helpers/node-gpu.js';

/** The manifest's optional "features" and "labels": validated at load, carried to model.features / model.labels. */
function modelFile(names: Record<string, unknown>): Uint8Array {
  const manifest = { format: 'resgpu-graph', version: 1, input: 3, layers: [{ type: 'linear', linear: 'head' }], ...names };
  const weight = { name: 'head.weight', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) };
  return encodeSafetensors([weight], { [GRAPH_METADATA_KEY]: JSON.stringify(manifest) });
}

test('both backends carry the names', async () => {
  const file = modelFile({ features: ['age', 'bmi', 'glucose'], labels: ['no', 'yes'] });
  for (const model of [await loadModel(file, { backend: 'cpu' }), await loadModel(file, { gpu: await nodeGpu() })]) {
    expect(model.features).toEqual(['age', 'bmi', 'glucose']);
    expect(model.labels).toEqual(['no', 'yes']);
    await model.dispose();
  }
  const plain = await loadModel(modelFile({}), { backend: 'cpu' });
  expect(plain.features).toBeUndefined();
  expect(plain.labels).toBeUndefined();
});

test.each([
  [{ features: ['age', 'bmi'] }, 'must name each of the 3 inputs once'],
  [{ features: ['age', 'age', 'bmi'] }, 'must name each of the 3 inputs once'],
  [{ features: 'age,bmi,glucose' }, '"features" must be an array of strings'],
  [{ labels: [0, 1] }, '"labels" must be an array of strings'],
])('a bad %j is a ModelFormatError', async (names, message) => {
  const load = loadModel(modelFile(names), { backend: 'cpu' });
  await expect(load).rejects.toThrow(ModelFormatError);
  await expect(load).rejects.toThrow(message);
});
