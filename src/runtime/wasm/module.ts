import gemm from './gemm.wat';

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

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** The gemm module's bytes for a SIMD level and memory kind. */
export function gemmModuleBytes(simd: SimdLevel, shared: boolean): Uint8Array<ArrayBuffer> {
  return decodeBase64(gemm[simd][shared ? 'shared' : 'unshared']);
}

/** What the module exports (src/runtime/wasm/gemm.wat). */
export interface GemmExports {
  /** One inference: `steps` descriptors at `plan`, this thread's share, barriers between steps. */
  run(plan: number, steps: number, thread: number, threads: number, canBlock: number): void;
}

export const WASM_PAGE_BYTES = 65536;
/** The largest memory a 32-bit WebAssembly module may have: 4 GiB. */
export const MAX_PAGES = 65536;
