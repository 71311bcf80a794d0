/**
 * Tensor data of the Open Inference Protocol into the model's float32 input: JSON arrays (flat,
 * or nested in the tensor's shape) and the binary tensor data extension's little-endian bytes.
 * Every number datatype is converted; BOOL and BYTES are refused (a model of numbers has no
 * meaning for them). Values must be finite float32s, as on /v1: a NaN or an overflow never
 * reaches the model.
 */
import { FLOAT32_MAX } from '../v1/schemas.js';

/** A request the protocol answers with 400 and {"error": message}. */
export class OipError extends Error {
  constructor(
    message: string,
    readonly statusCode = 400,
  ) {
    super(message);
    this.name = 'OipError';
  }
}

interface NumberType {
  bytes: number;
  /** Reads element i of little-endian binary data. */
  read(view: DataView, i: number): number;
  /** For integer types: the range a JSON value must be in. */
  integer?: readonly [number, number];
}

const NUMBER_TYPES: Record<string, NumberType> = {
  FP16: { bytes: 2, read: (v, i) => halfToFloat(v.getUint16(2 * i, true)) },
  FP32: { bytes: 4, read: (v, i) => v.getFloat32(4 * i, true) },
  FP64: { bytes: 8, read: (v, i) => v.getFloat64(8 * i, true) },
  INT8: { bytes: 1, read: (v, i) => v.getInt8(i), integer: [-128, 127] },
  INT16: { bytes: 2, read: (v, i) => v.getInt16(2 * i, true), integer: [-32768, 32767] },
  INT32: { bytes: 4, read: (v, i) => v.getInt32(4 * i, true), integer: [-(2 ** 31), 2 ** 31 - 1] },
  INT64: { bytes: 8, read: (v, i) => Number(v.getBigInt64(8 * i, true)), integer: [-(2 ** 63), 2 ** 63] },
  UINT8: { bytes: 1, read: (v, i) => v.getUint8(i), integer: [0, 255] },
  UINT16: { bytes: 2, read: (v, i) => v.getUint16(2 * i, true), integer: [0, 65535] },
  UINT32: { bytes: 4, read: (v, i) => v.getUint32(4 * i, true), integer: [0, 2 ** 32 - 1] },
  UINT64: { bytes: 8, read: (v, i) => Number(v.getBigUint64(8 * i, true)), integer: [0, 2 ** 64] },
};

/** Every datatype the protocol defines; the ones not in NUMBER_TYPES are refused by name. */
export const DATATYPES = [...Object.keys(NUMBER_TYPES), 'BOOL', 'BYTES'] as const;
export const NUMBER_DATATYPES = Object.keys(NUMBER_TYPES);

/** What the decoder knows about the input it fills. */
export interface InputSpec {
  model: string;
  name: string;
  /** One row's shape (the batch excluded). */
  rowShape: readonly number[];
  maxRows: number;
}

/** An input tensor of a request, as the schema let it through. */
export interface RequestInput {
  name: string;
  shape: number[];
  datatype: string;
  parameters?: Record<string, unknown>;
  data?: unknown[];
}

/**
 * The batch a request's input holds: its rows, row-major, as float32. `binary` is what follows
 * the JSON in the body; `offset` is where this input's bytes start in it.
 */
export function decodeInput(input: RequestInput, spec: InputSpec, binary: Uint8Array, offset: number): { x: Float32Array; rows: number; bytesRead: number } {
  const where = `input '${input.name}'`;
  const type = NUMBER_TYPES[input.datatype];
  if (!type) {
    throw new OipError(`${where} has datatype ${input.datatype}; model '${spec.model}' takes numbers (${NUMBER_DATATYPES.join(', ')}), converted to FP32.`);
  }
  const rows = rowsOf(input.shape, spec, where);
  const count = rows * spec.rowShape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(count);
  const binarySize = input.parameters?.binary_data_size;
  if (binarySize !== undefined) {
    if (input.data !== undefined) throw new OipError(`${where} has both "data" and a binary_data_size: send its data one way.`);
    const size = binarySize as number;
    if (size !== count * type.bytes) {
      throw new OipError(`${where} has binary_data_size ${size}, but shape [${input.shape.join(', ')}] of ${input.datatype} takes ${count * type.bytes} bytes.`);
    }
    if (offset + size > binary.byteLength) {
      throw new OipError(`${where} declares ${size} bytes of binary data, but the body holds ${binary.byteLength - offset} after the JSON (and the inputs before it).`);
    }
    const view = new DataView(binary.buffer, binary.byteOffset + offset, size);
    for (let i = 0; i < count; i++) x[i] = checked(type.read(view, i), type, where, i, input.shape);
    return { x, rows, bytesRead: size };
  }
  if (input.data === undefined) throw new OipError(`${where} has no "data" (and no binary_data_size parameter).`);
  let i = 0;
  const visit = (values: unknown[], depth: number): void => {
    for (const v of values) {
      if (Array.isArray(v)) {
        // Nested data follows the shape: the array at depth d holds shape[d] items.
        if (depth + 1 >= input.shape.length || v.length !== input.shape[depth + 1]) throw notShaped(where, input.shape);
        visit(v, depth + 1);
      } else {
        if (depth !== 0 && depth !== input.shape.length - 1) throw notShaped(where, input.shape);
        if (i >= count) throw countMismatch(where, input.shape, count, 'more');
        if (typeof v !== 'number') throw new OipError(`${where}: element ${elementName(i, input.shape)} is ${JSON.stringify(v)}, not a number (datatype ${input.datatype}).`);
        if (type.integer && (!Number.isInteger(v) || v < type.integer[0] || v > type.integer[1])) {
          throw new OipError(`${where}: element ${elementName(i, input.shape)} is ${v}, not a ${input.datatype} (an integer from ${type.integer[0]} to ${type.integer[1]}).`);
        }
        x[i] = checked(v, type, where, i, input.shape);
        i++;
      }
    }
  };
  const nested = Array.isArray(input.data[0]);
  if (nested && input.data.length !== input.shape[0]) throw notShaped(where, input.shape);
  if (!nested && input.data.length !== count) throw countMismatch(where, input.shape, count, input.data.length);
  visit(input.data, 0);
  if (i !== count) throw countMismatch(where, input.shape, count, i);
  return { x, rows, bytesRead: 0 };
}

/** The batch size a shape gives, once it is checked against the model's input [-1, ...rowShape]. */
function rowsOf(shape: number[], spec: InputSpec, where: string): number {
  const expected = `[-1, ${spec.rowShape.join(', ')}]`;
  const fits = shape.length === spec.rowShape.length + 1 && spec.rowShape.every((d, i) => shape[i + 1] === d);
  if (!fits) throw new OipError(`${where} has shape [${shape.join(', ')}]; model '${spec.model}' takes ${expected} (a batch of rows).`);
  const rows = shape[0]!;
  if (rows < 1) throw new OipError(`${where} has shape [${shape.join(', ')}]: a batch of at least one row is needed.`);
  if (rows > spec.maxRows) throw new OipError(`${where} has ${rows} rows; this server takes at most ${spec.maxRows} per request (--max-rows).`);
  return rows;
}

function checked(v: number, type: NumberType, where: string, i: number, shape: number[]): number {
  if (!Number.isFinite(v) || Math.abs(v) > FLOAT32_MAX) {
    throw new OipError(`${where}: element ${elementName(i, shape)} is ${v}, which is not a finite float32${type.bytes === 8 && !type.integer ? ' (FP64 values past ±3.4e38 overflow the model\'s FP32 input)' : ''}.`);
  }
  return v;
}

/** Row and column of a flat index, for messages: [3, 5]. */
function elementName(i: number, shape: number[]): string {
  const index: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    index.unshift(i % shape[d]!);
    i = Math.floor(i / shape[d]!);
  }
  return `[${index.join(', ')}]`;
}

function notShaped(where: string, shape: number[]): OipError {
  return new OipError(`${where}: "data" is nested, but not as shape [${shape.join(', ')}]; nest it exactly so, or send it flat (row-major).`);
}

function countMismatch(where: string, shape: number[], count: number, got: number | 'more'): OipError {
  return new OipError(`${where}: shape [${shape.join(', ')}] holds ${count} elements, but "data" holds ${got === 'more' ? 'more' : got}.`);
}

/** IEEE 754 half (binary16) to a number: no FP16 typed array exists in Node 20. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** Float32 outputs as the binary extension sends them: little-endian, whatever the platform. */
export function float32Bytes(y: Float32Array): Uint8Array {
  const bytes = new Uint8Array(y.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < y.length; i++) view.setFloat32(4 * i, y[i]!, true);
  return bytes;
}
