import gemm from './gemm.wat';
import type { SimdLevel } from './simd.js';

export type { SimdLevel } from './simd.js';

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
