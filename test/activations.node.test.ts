import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, test } from 'vitest';
import { encodeSafetensors, loadModel, type GraphManifestV2 } from '../src/index.js';
import { ACTIVATIONS as F64, erf } from '../src/graph/kinds/activation.js';
import { FAMILY_CASES_DIR } from './global-setup.js';
import { pyNumber } from './helpers/compare.js';
import { nodeDevice } from './helpers/node-gpu.js';
import { ACTIVATIONS, actName, type Act } from './helpers/random-graph.js';

/**
 * Each activation of the shared WGSL epilogue (shaders/epilogue.wgsl) against float64, over a
 * dense sweep, with the maximum error stated here; and its NaN/±Inf results against what
 * PyTorch 1.13 gives (recorded at test time by test/python/make_family_cases.py).
 */
let device: GPUDevice;
beforeAll(async () => {
  device = await nodeDevice();
});

/** A model that is only the activation: one elementwise step, the same epilogue every kernel runs. */
function activationModel(act: Act, width: number): Uint8Array {
  const graph: GraphManifestV2 = { format: 'resgpu-graph', version: 2, inputs: [{ name: 'x', shape: [width] }], outputs: ['y'], nodes: [{ op: 'activation', inputs: ['x'], output: 'y', attrs: { ...act } }] };
  return encodeSafetensors([], { 'resgpu.graph': JSON.stringify(graph) });
}

/**
 * Maximum absolute error against float64, relative to max(1, |x|) (the functions grow like x):
 * f32 evaluation of the formulas costs a few units of f32's 6e-8; GELU's erf adds the
 * Abramowitz-Stegun 7.1.26 approximation's 1.5e-7 (times x/2); the built-in exp and tanh may
 * lose a few more units on software adapters. Measured on SwiftShader over the sweep below
 * (the test prints it): gelu 1.8e-7, gelu_tanh 1.4e-7, silu 1.2e-7, tanh 1.2e-7, sigmoid
 * 8.8e-8, leaky_relu 1.4e-8, relu 0. Bound: 1e-6, still 100× inside the 1e-4 the models are
 * held to.
 */
const BOUND = 1e-6;

test.each(ACTIVATIONS.map((a) => [actName(a), a] as const))('%s stays within 1e-6·max(1,|x|) of float64 over [-10, 10]', async (name, act) => {
  const width = 2048;
  const rows = 10;
  const x = Float32Array.from({ length: width * rows }, (_, i) => -10 + (20 * i) / (width * rows - 1));
  const model = await loadModel(activationModel(act, width), { device });
  const y = await model.run(x);
  const f = F64[actName(act) as keyof typeof F64];
  let worst = 0;
  x.forEach((v, i) => (worst = Math.max(worst, Math.abs(y[i]! - f(v, act.negative_slope ?? 0)) / Math.max(1, Math.abs(v)))));
  console.log(`${name}: max error ${worst.toExponential(2)} · max(1, |x|)`);
  expect(worst).toBeLessThanOrEqual(BOUND);
  await model.dispose();
});

test('the float64 erf of the reference agrees with known values to 1e-15', () => {
  // erf(0.5), erf(1), erf(2), erf(3.5) to 17 digits (Abramowitz & Stegun table 7.1, and their series).
  const known: [number, number][] = [[0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [3.5, 0.9999992569016276]];
  for (const [x, v] of known) expect(Math.abs(erf(x) - v)).toBeLessThan(1e-15);
  expect(erf(-1)).toBe(-erf(1));
  expect(erf(Infinity)).toBe(1);
  expect(Number.isNaN(erf(NaN))).toBe(true);
});

test.each(ACTIVATIONS.map((a) => [actName(a), a] as const))('%s gives PyTorch’s results at NaN, ±Inf and ±100', async (name, act) => {
  const cases = JSON.parse(readFileSync(join(FAMILY_CASES_DIR, 'cases.json'), 'utf8')) as { nonfinite: Record<string, unknown> & { at: (number | string)[] } };
  const num = pyNumber;
  const at = cases.nonfinite.at.map(num);
  const torch = (cases.nonfinite[name] as { float32: (number | string)[] }).float32.map(num);
  const model = await loadModel(activationModel(act, at.length), { device });
  const y = await model.run(Float32Array.from(at));
  at.forEach((v, i) => {
    const [got, want] = [y[i]!, torch[i]!];
    // leaky_relu in the test models has slope 0.2 where PyTorch's table has 0.01: compare its formula instead at finite negatives.
    const expected = name === 'leaky_relu' && Number.isFinite(v) && v < 0 ? v * act.negative_slope! : want;
    expect(Number.isNaN(expected) ? Number.isNaN(got) : Math.abs(got - expected) <= 1e-6 * Math.max(1, Math.abs(expected)) || got === expected, `${name}(${v}) = ${got}, PyTorch ${want}`).toBe(true);
  });
  await model.dispose();
});
