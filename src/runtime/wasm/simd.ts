/**
 * Which build of the gemm module this engine can run, chosen at load by feature detection:
 * relaxed SIMD (one fused multiply-add per f32x4) where the engine validates it, plain SIMD
 * otherwise; shared memory when the model runs on more than one thread.
 */
export type SimdLevel = 'relaxed' | 'plain';

// (module (func (param v128) (result v128) (f32x4.relaxed_madd (local.get 0) (local.get 0) (local.get 0))))
const RELAXED_PROBE = [0, 97, 115, 109, 1, 0, 0, 0, 1, 6, 1, 96, 1, 123, 1, 123, 3, 2, 1, 0, 10, 13, 1, 11, 0, 32, 0, 32, 0, 32, 0, 253, 133, 2, 11];
// (module (func (param v128) (result v128) (f32x4.add (local.get 0) (local.get 0))))
const SIMD_PROBE = [0, 97, 115, 109, 1, 0, 0, 0, 1, 6, 1, 96, 1, 123, 1, 123, 3, 2, 1, 0, 10, 11, 1, 9, 0, 32, 0, 32, 0, 253, 228, 1, 11];

/** The best SIMD level the engine validates, or null when it has no WebAssembly SIMD at all. */
export function detectSimd(): SimdLevel | null {
  if (typeof WebAssembly !== 'object') return null;
  if (WebAssembly.validate(new Uint8Array(RELAXED_PROBE))) return 'relaxed';
  return WebAssembly.validate(new Uint8Array(SIMD_PROBE)) ? 'plain' : null;
}
