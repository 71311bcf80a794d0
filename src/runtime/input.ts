import { InputError } from '../errors.js';

/** Checks a run() input and returns its batch size. */
export function batchOf(x: unknown, inputSize: number): number {
  if (!(x instanceof Float32Array)) {
    const what = x === null ? 'null' : ArrayBuffer.isView(x) ? x.constructor.name : typeof x;
    throw new InputError(`run() takes a Float32Array of batch × ${inputSize} floats, got ${what}.`);
  }
  if (x.length === 0) throw new InputError(`run() got an empty input; it needs batch × ${inputSize} floats, batch ≥ 1.`);
  if (x.length % inputSize !== 0) {
    throw new InputError(
      `run() got ${x.length} floats, not a multiple of the model's input size ${inputSize} ` +
        `(${Math.floor(x.length / inputSize)} full rows and ${x.length % inputSize} left over).`,
    );
  }
  return x.length / inputSize;
}

export function checkBatchOption(batch: unknown): number {
  if (batch === undefined) return 1;
  if (!Number.isSafeInteger(batch) || (batch as number) < 1) {
    throw new InputError(`describe({ batch }) needs a positive integer batch, got ${String(batch)}.`);
  }
  return batch as number;
}
