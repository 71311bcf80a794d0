import { GraphError } from '../errors.js';
import type { FloatArray } from '../graph/op-graph.js';

/**
 * Every element type a model file may hold, by its safetensors name (PyTorch's storages map
 * onto the same names), with its byte size and, where ONNX has it, ONNX's TensorProto data
 * type code. A dtype missing here is rejected as unknown.
 */
const DTYPES: Readonly<Record<string, { bytes: number; onnx?: number }>> = {
  F64: { bytes: 8, onnx: 11 }, F32: { bytes: 4, onnx: 1 }, F16: { bytes: 2, onnx: 10 }, BF16: { bytes: 2, onnx: 16 },
  I64: { bytes: 8, onnx: 7 }, I32: { bytes: 4, onnx: 6 }, I16: { bytes: 2 }, I8: { bytes: 1 },
  U64: { bytes: 8 }, U32: { bytes: 4 }, U16: { bytes: 2 }, U8: { bytes: 1 }, BOOL: { bytes: 1 },
  F8_E4M3: { bytes: 1 }, F8_E5M2: { bytes: 1 },
};

/** Byte size of each dtype. */
export const DTYPE_BYTES: Readonly<Record<string, number>> = Object.fromEntries(Object.entries(DTYPES).map(([k, v]) => [k, v.bytes]));

/** The dtype of an ONNX TensorProto data type code, or undefined where resgpu reads none. */
export function onnxDtype(code: number): string | undefined {
  return Object.entries(DTYPES).find(([, v]) => v.onnx === code)?.[0];
}

/** IEEE half → number. */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/**
 * Reads little-endian float data as f32, or f64 for F64 (kept so BatchNorm folding sees the
 * file's full precision). Aligned F32/F64 data is viewed in place, not copied.
 * `what` names the tensor in error messages.
 */
export function decodeFloats(dtype: string, bytes: Uint8Array, what: string): FloatArray {
  const { buffer, byteOffset, byteLength } = bytes;
  // A copy for unaligned data: new Uint8Array(view), since a Node Buffer's slice() is a view of its whole pool.
  switch (dtype) {
    case 'F32':
      return byteOffset % 4 === 0
        ? new Float32Array(buffer, byteOffset, byteLength / 4)
        : new Float32Array(new Uint8Array(bytes).buffer);
    case 'F64':
      return byteOffset % 8 === 0
        ? new Float64Array(buffer, byteOffset, byteLength / 8)
        : new Float64Array(new Uint8Array(bytes).buffer);
    case 'F16':
    case 'BF16': {
      const view = new DataView(buffer, byteOffset, byteLength);
      const out = new Float32Array(byteLength / 2);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < out.length; i++) {
        const h = view.getUint16(2 * i, true);
        // bfloat16 is the top half of a float32; half needs a real conversion.
        if (dtype === 'BF16') bits[i] = h << 16;
        else out[i] = halfToNumber(h);
      }
      return out;
    }
    default:
      throw new GraphError(`${what} has dtype ${dtype}; resgpu needs a float tensor (F32, F16, BF16 or F64).`);
  }
}

/** Any numeric tensor as float64 (ONNX's shape and weight constants, which may be I64 or I32). */
export function decodeNumbers(dtype: string, bytes: Uint8Array, what: string): Float64Array {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'I64') return Float64Array.from({ length: bytes.byteLength / 8 }, (_, i) => Number(v.getBigInt64(8 * i, true)));
  if (dtype === 'I32') return Float64Array.from({ length: bytes.byteLength / 4 }, (_, i) => v.getInt32(4 * i, true));
  return Float64Array.from(decodeFloats(dtype, bytes, what));
}
