import { GraphError } from '../errors.js';
import type { FloatArray } from '../spec.js';

/** Byte size of each safetensors dtype; a dtype missing here is rejected as unknown. */
export const DTYPE_BYTES: Readonly<Record<string, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2,
  I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
  F8_E4M3: 1, F8_E5M2: 1,
};

export const FLOAT_DTYPES = ['F32', 'F16', 'BF16', 'F64'] as const;

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
  switch (dtype) {
    case 'F32':
      return byteOffset % 4 === 0
        ? new Float32Array(buffer, byteOffset, byteLength / 4)
        : new Float32Array(bytes.slice().buffer);
    case 'F64':
      return byteOffset % 8 === 0
        ? new Float64Array(buffer, byteOffset, byteLength / 8)
        : new Float64Array(bytes.slice().buffer);
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
