/**
 * float32 → IEEE binary16 bits, rounded to nearest, ties to even (as PyTorch's .half() and
 * Python's struct 'e' do); overflow becomes ±Infinity, NaN stays NaN. Used to store weights
 * with precision: 'f16'.
 */
const f32 = new Float32Array(1);
const bits32 = new Uint32Array(f32.buffer);

export function halfBits(x: number): number {
  f32[0] = x;
  const b = bits32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exponent = (b >>> 23) & 0xff;
  const mantissa = b & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // A subnormal half (or zero): the 24-bit significand shifted into 10 bits.
    if (e < -10) return sign;
    return sign | roundShift(mantissa | 0x800000, 14 - e);
  }
  // A carry out of the mantissa correctly bumps the exponent (up to Infinity).
  return sign | ((e << 10) + roundShift(mantissa, 13));
}

/** v >> shift, rounded to nearest, ties to even. */
function roundShift(v: number, shift: number): number {
  const kept = v >>> shift;
  const rest = v & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
}

/** Converts floats to half bits, into `out` (same length). */
export function toHalves<T extends Uint16Array>(values: Float32Array, out: T): T {
  for (let i = 0; i < values.length; i++) out[i] = halfBits(values[i]!);
  return out;
}
