/**
 * A model's sizes and names as the command line and the server's JSON API answer them: shared
 * by `resgpu run` and resgpu-serve's /v1/predict (through 'resgpu/cli'), so both print the
 * same body for the same rows.
 */

/** What the answer (and the server's schemas) need to know about the model. */
export interface ModelShape {
  inputSize: number;
  outputSize: number;
  features?: readonly string[];
  labels?: readonly string[];
}

/**
 * The model's sizes and names as the API uses them. Labels count only when there is one per
 * output (the loader cannot check that for every file: the output width comes last).
 */
export function modelShape(model: ModelShape): ModelShape {
  const labels = model.labels?.length === model.outputSize ? model.labels : undefined;
  return { inputSize: model.inputSize, outputSize: model.outputSize, features: model.features, labels };
}

/** Outputs per row, and per row the label of its largest output when the model has labels. */
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
