import type { ModelShape } from './schemas.js';

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

/** The 200 answer: outputs per row, and per row the label of its largest output when the model has labels. */
export function answerOf(y: Float32Array, rows: number, shape: ModelShape): { outputs: number[][]; labels?: string[] } {
  const m = shape.outputSize;
  const outputs: number[][] = [];
  for (let r = 0; r < rows; r++) outputs.push(Array.from(y.subarray(r * m, (r + 1) * m)));
  if (!shape.labels) return { outputs };
  return { outputs, labels: outputs.map((row) => shape.labels![argmax(row)]!) };
}

function argmax(row: number[]): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}
