import { SelfTestError } from '../errors.js';
import type { GoldenVectors } from '../graph/op-graph.js';
import type { Model, SelfTestResult } from '../model.js';

/**
 * Tolerances against PyTorch's float64 outputs, relative to max(1, |y|), as the test suite
 * holds every backend to them (test/helpers/compare.ts): f32 arithmetic with BatchNorm folded
 * differs from float64 by well under 1e-4 on the model families; f16 weights round each weight
 * by up to 2⁻¹¹, 4e-3 over a network.
 */
export const SELF_TEST_TOLERANCE = { f32: 1e-4, f16: 4e-3 } as const;

/**
 * Runs the golden vectors on the model as loaded and compares with PyTorch's outputs: NaN where
 * PyTorch has NaN, the same infinity, finite values within the tolerance. Throws a SelfTestError
 * naming the backend, adapter, kernel variants and the worst row, after disposing the model.
 */
export async function selfTest(model: Model, golden: GoldenVectors): Promise<SelfTestResult> {
  const started = performance.now();
  const description = model.describe({ batch: golden.rows });
  const tolerance = SELF_TEST_TOLERANCE[description.precision];
  const y = await model.run(golden.inputs);
  const ms = performance.now() - started;
  const width = model.outputSize;
  let worst = { row: 0, column: 0, error: 0, tolerance };
  golden.outputs.forEach((e, i) => {
    const a = y[i]!;
    const error = Number.isNaN(e) ? (Number.isNaN(a) ? 0 : Infinity) : Number.isFinite(e) ? Math.abs(a - e) / Math.max(1, Math.abs(e)) : a === e ? 0 : Infinity;
    if (!(error <= worst.error)) worst = { row: Math.floor(i / width), column: i % width, error: Number.isNaN(error) ? Infinity : error, tolerance };
  });
  if (worst.error > tolerance) {
    const adapter = description.adapter ? `${description.adapter.vendor} ${description.adapter.architecture} ${description.adapter.description}`.trim() : null;
    const variants = [...new Set(description.dispatches.map((d) => d.variant))];
    const where = { backend: model.backend, adapter, variants };
    await model.dispose();
    throw new SelfTestError(
      `The model failed its self-test on ${model.backend}${adapter ? ` (adapter ${adapter}, kernels ${variants.join(', ')})` : ''}, ` +
        `${description.precision} weights: golden row ${worst.row}, output ${worst.column} is off by ${worst.error.toExponential(2)} ` +
        `relative to max(1, |expected|), beyond the ${tolerance} allowed (vectors: ${golden.source}). The file may have been altered ` +
        "after export, or this device computes wrongly. Try another backend ({ backend: 'cpu' } computes in float64), or " +
        'selfTest: false to load it unchecked.',
      where,
      worst,
    );
  }
  return { rows: golden.rows, worstError: worst.error, tolerance, ms, source: golden.source };
}
