import { test, expect } from 'vitest';
import { loadModel } from '../src/index.js';
import { nodeDevice } from './helpers/node-gpu.js';
import { makeRandomModel, randomInput } from './helpers/random-model.js';
import { maxRelativeError } from './helpers/compare.js';

test('smoke', async () => {
  const device = await nodeDevice();
  const m = makeRandomModel({ input: 30, blocks: [{ hidden: 64, bn: true }, { hidden: 37, out: 20, bn: true }], head: { out: 3 } });
  const gpu = await loadModel(m.bytes, { device });
  const cpu = await loadModel(m.bytes, { backend: 'cpu' });
  const x = randomInput(5, 30);
  const a = await gpu.run(x);
  const b = await cpu.run(x);
  console.log(a.slice(0, 6), b.slice(0, 6), maxRelativeError(a, b));
  console.log(JSON.stringify(gpu.describe({ batch: 5 }), null, 1).slice(0, 1500));
  expect(maxRelativeError(a, b)).toBeLessThan(1e-4);
});
