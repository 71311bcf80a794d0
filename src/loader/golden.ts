import type { GoldenVectors } from '../graph/op-graph.js';

/** Rows of golden vectors a model may carry, and numbers per side: a self-test is one small run, and a file's header stays small. */
export const MAX_GOLDEN_ROWS = 64;
export const MAX_GOLDEN_VALUES = 1 << 20;

/**
 * Golden vectors as a manifest (`golden`) or the `goldenVectors` option gives them: `inputs`
 * and `outputs` as arrays of rows (or flat typed arrays with `rows`), checked against the
 * model's sizes. Non-finite values are written as the strings "NaN", "Infinity", "-Infinity"
 * (JSON has no such numbers). Throws `bad(why)`.
 */
export function parseGolden(raw: unknown, sizes: { inputSize: number; outputSize: number }, bad: (why: string) => Error): GoldenVectors {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('"golden" must be an object { inputs, outputs }');
  const g = raw as Record<string, unknown>;
  const inputs = flatten(g.inputs, sizes.inputSize, 'inputs', bad);
  const outputs = flatten(g.outputs, sizes.outputSize, 'outputs', bad);
  if (inputs.rows !== outputs.rows) throw bad(`golden inputs have ${inputs.rows} rows but outputs ${outputs.rows}`);
  if (g.source !== undefined && typeof g.source !== 'string') throw bad('golden.source must be a string');
  return { rows: inputs.rows, inputs: Float32Array.from(inputs.values), outputs: Float64Array.from(outputs.values), source: (g.source as string | undefined) ?? 'given' };
}

function flatten(v: unknown, width: number, what: string, bad: (why: string) => Error): { rows: number; values: number[] } {
  const number = (x: unknown): number => {
    if (typeof x === 'number') return x;
    if (x === 'NaN') return NaN;
    if (x === 'Infinity') return Infinity;
    if (x === '-Infinity') return -Infinity;
    throw bad(`golden ${what} must hold numbers (or "NaN", "Infinity", "-Infinity"), got ${JSON.stringify(x)}`);
  };
  let values: number[];
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) values = Array.from(v as unknown as ArrayLike<number>);
  else if (Array.isArray(v) && v.every(Array.isArray)) {
    if (v.length > MAX_GOLDEN_ROWS) throw bad(`golden ${what} has ${v.length} rows, more than the ${MAX_GOLDEN_ROWS} a self-test runs`);
    if (v.some((row) => (row as unknown[]).length !== width)) throw bad(`every golden ${what} row must hold ${width} values`);
    values = (v as unknown[][]).flat().map(number);
  } else throw bad(`golden ${what} must be an array of rows (arrays of ${width} numbers) or a typed array`);
  if (values.length === 0 || values.length % width !== 0) throw bad(`golden ${what} must hold whole rows of ${width} values`);
  if (values.length > MAX_GOLDEN_VALUES) throw bad(`golden ${what} holds ${values.length} values, more than ${MAX_GOLDEN_VALUES}`);
  const rows = values.length / width;
  if (rows > MAX_GOLDEN_ROWS) throw bad(`golden ${what} has ${rows} rows, more than the ${MAX_GOLDEN_ROWS} a self-test runs`);
  return { rows, values };
}
