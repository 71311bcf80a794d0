import { elementwise } from './elementwise.js';
import { gemmTiledKernels } from './gemm-tiled.js';
import { gemmKernels } from './gemm.js';
import { gemvKernels } from './gemv.js';
import type { KernelDef } from './kernel.js';
import { layernorm } from './layernorm.js';
import type { KernelVariant } from './variant.js';

export type { KernelVariant };

/**
 * Every WebGPU kernel resgpu can dispatch. GEMM kernels come once per weight precision; the
 * LayerNorm and elementwise kernels read no precision-dependent weights. Adding a kernel: its
 * WGSL in shaders/, its definition in this folder, one line here, and a rule in
 * runtime/webgpu/select.ts. The reflection test and the correctness matrix pick it up from here.
 */
export const KERNEL_FAMILIES = { gemm: gemmKernels, gemv: gemvKernels, gemm_tiled: gemmTiledKernels } as const satisfies Record<
  KernelVariant,
  { f32: KernelDef; f16: KernelDef }
>;

export const KERNELS: readonly KernelDef[] = [...Object.values(KERNEL_FAMILIES).flatMap((k) => [k.f32, k.f16]), layernorm, elementwise];
