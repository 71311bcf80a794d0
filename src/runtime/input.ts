import { InputError } from '../errors.js';

/** Checks a run() input and returns its batch size. */
export function batchOf(x: unknown, inputSize: number, rowShape?: readonly number[]): number {
  // An image's row is C·H·W floats: say so, for a caller who passed one plane or forgot a channel.
  const per = rowShape && rowShape.length > 1 ? ` (a row is [${rowShape.join(', ')}], in NCHW order)` : '';
  if (!(x instanceof Float32Array)) {
    const what = x === null ? 'null' : ArrayBuffer.isView(x) ? x.constructor.name : typeof x;
    throw new InputError(`run() takes a Float32Array of batch × ${inputSize} floats${per}, got ${what}.`);
  }
  if (x.length === 0) throw new InputError(`run() got an empty input; it needs batch × ${inputSize} floats, batch ≥ 1.`);
  if (x.length % inputSize !== 0) {
    throw new InputError(
      `run() got ${x.length} floats, not a multiple of the model's input size ${inputSize}${per} ` +
        `(${Math.floor(x.length / inputSize)} full rows and ${x.length % inputSize} left over).`,
    );
  }
  return x.length / inputSize;
}

/** run(x, options) and describe(options): options.inputShape, when given, is a row shape of positive integers. */
export function checkRunOptions(options: unknown): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) throw new InputError(`run() options must be an object such as { inputShape: [3, 224, 224] }, got ${String(options)}.`);
  const shape = (options as { inputShape?: unknown }).inputShape;
  if (shape === undefined) return;
  const ok = Array.isArray(shape) && shape.length >= 1 && shape.length <= 3 && shape.every((d) => Number.isSafeInteger(d) && d >= 1 && d <= 65536);
  if (!ok) throw new InputError(`inputShape must be a row shape without the batch, [features] or [C, H, W], each from 1 to 65536; got ${JSON.stringify(shape)}.`);
}

export function checkBatchOption(batch: unknown): number {
  if (batch === undefined) return 1;
  if (!Number.isSafeInteger(batch) || (batch as number) < 1) {
    throw new InputError(`describe({ batch }) needs a positive integer batch, got ${String(batch)}.`);
  }
  return batch as number;
}

/**
 * With { rejectNonFinite: true }: the first NaN or ±Infinity of an input, as an InputError naming
 * its row and column. Without it, non-finite values run and propagate as in PyTorch.
 */
export function checkFinite(x: Float32Array, inputSize: number): void {
  for (let i = 0; i < x.length; i++) {
    if (Number.isFinite(x[i]!)) continue;
    const [row, column] = [Math.floor(i / inputSize), i % inputSize];
    throw new InputError(
      `run() input row ${row}, column ${column} (both counted from 0) is ${x[i]}; this model was loaded with ` +
        'rejectNonFinite: true, which refuses NaN and ±Infinity (often a missing value). Fill in or impute the value, ' +
        'or load without rejectNonFinite to let it propagate as in PyTorch (NaN in, NaN out).',
    );
  }
}
