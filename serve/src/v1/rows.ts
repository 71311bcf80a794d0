import type { ModelShape } from 'resgpu/cli';

/** A request body that passed the schema: exactly one of the two forms. */
export type PredictBody = { inputs: number[][] } | { instances: Record<string, number>[] };

/** The rows of a validated body as one row-major Float32Array, in feature order. */
export function rowsOf(body: PredictBody, shape: ModelShape): { x: Float32Array; rows: number } {
  const n = shape.inputSize;
  if ('inputs' in body) {
    const x = new Float32Array(body.inputs.length * n);
    body.inputs.forEach((row, r) => x.set(row, r * n));
    return { x, rows: body.inputs.length };
  }
  const features = shape.features!;
  const x = new Float32Array(body.instances.length * n);
  body.instances.forEach((instance, r) => {
    for (let c = 0; c < n; c++) x[r * n + c] = instance[features[c]!]!;
  });
  return { x, rows: body.instances.length };
}
