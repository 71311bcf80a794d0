import onnxProto from 'onnx-proto';
import { GraphError, ModelFormatError } from '../../errors.js';
import { decodeNumbers, DTYPE_BYTES, onnxDtype } from '../dtype.js';
import type { RawTensor } from '../tensors.js';

/** The protobuf side of ONNX: decoding the model and its initializers into RawTensors. */
export const { onnx } = onnxProto;
export type Node = onnxProto.onnx.INodeProto;
export type Tensor = onnxProto.onnx.ITensorProto;

export const num = (v: number | { toNumber(): number } | null | undefined): number => (typeof v === 'number' ? v : v ? v.toNumber() : 0);

export function decodeModel(bytes: Uint8Array) {
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new ModelFormatError(`Malformed ONNX file: the protobuf could not be decoded (${(e as Error).message}).`);
  }
}

/** Dtypes an initializer may have: floats, and the integers of shape constants. */
const READ = ['F32', 'F64', 'F16', 'BF16', 'I64', 'I32'];

export function rawTensor(t: Tensor, external: Map<string, Uint8Array>): RawTensor {
  const name = t.name ?? '';
  const dtype = onnxDtype(t.dataType ?? 0);
  if (!dtype || !READ.includes(dtype)) throw new GraphError(`ONNX initializer "${name}" has data type ${t.dataType}; resgpu reads float, double, float16, bfloat16 and int64.`);
  const size = DTYPE_BYTES[dtype]!;
  const shape = (t.dims ?? []).map(num);
  const count = shape.reduce((n, d) => n * d, 1);
  let bytes: Uint8Array;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    const info = Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
    const file = external.get(info.location ?? '');
    if (!file) {
      throw new ModelFormatError(
        `ONNX initializer "${name}" is stored in the external file "${info.location}"; pass it: ` +
          `loadModel({ model, externalData: { "${info.location}": <its URL or bytes> } }).`,
      );
    }
    const offset = Number(info.offset ?? 0);
    const length = info.length ? Number(info.length) : count * size;
    // subarray would count a negative offset from the end and round a fractional one: refuse both, as onnx's checker does.
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0 || offset + length > file.byteLength) {
      throw new ModelFormatError(
        `Malformed ONNX file: initializer "${name}" claims bytes [${info.offset ?? 0}, +${info.length ?? count * size}) of ` +
          `"${info.location}", which has ${file.byteLength}; offsets and lengths must be whole, non-negative and inside the file.`,
      );
    }
    bytes = file.subarray(offset, offset + length);
  } else if (t.rawData && t.rawData.byteLength > 0) {
    bytes = t.rawData;
  } else if (dtype === 'F32') {
    bytes = new Uint8Array(Float32Array.from(t.floatData ?? []).buffer);
  } else if (dtype === 'F64') {
    bytes = new Uint8Array(Float64Array.from(t.doubleData ?? []).buffer);
  } else if (dtype === 'F16' || dtype === 'BF16') {
    bytes = new Uint8Array(Uint16Array.from(t.int32Data ?? []).buffer); // 16-bit floats travel in int32_data
  } else if (dtype === 'I64') {
    bytes = new Uint8Array(BigInt64Array.from((t.int64Data ?? []).map((v) => BigInt(num(v)))).buffer);
  } else {
    bytes = new Uint8Array(Int32Array.from(t.int32Data ?? []).buffer);
  }
  if (bytes.byteLength !== count * size) {
    throw new ModelFormatError(`Malformed ONNX file: initializer "${name}" has ${bytes.byteLength} bytes, but shape [${shape.join(', ')}] needs ${count * size}.`);
  }
  return { name, dtype, shape, bytes };
}

/** A constant's values as float64. */
export function floats(t: RawTensor): Float64Array {
  return decodeNumbers(t.dtype, t.bytes, `ONNX tensor "${t.name}"`);
}

export const f64Tensor = (name: string, shape: number[], data: Float64Array): RawTensor => ({ name, dtype: 'F64', shape, bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
