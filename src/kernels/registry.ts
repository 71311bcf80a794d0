import { convKernels } from './conv.js';
import { elementwise } from './elementwise.js';
import { gemmMeanKernels } from './gemm-mean.js';
import { gemmTiledKernels } from './gemm-tiled.js';
import { gemmKernels } from './gemm.js';
import { gemvKernels } from './gemv.js';
import type { KernelDef } from './kernel.js';
import { layernorm } from './layernorm.js';
import { pool } from './pool.js';
import type { KernelVariant } from './variant.js';

export type { KernelVariant };

/**
 * Every WebGPU kernel resgpu can dispatch. GEMM and conv kernels come once per weight precision;
 * the LayerNorm, elementwise and pool kernels read no precision-dependent weights. Adding a kernel: its
 * WGSL in shaders/, its definition in this folder, one line here, and a rule in
 * runtime/webgpu/select.ts. The reflection test and the correctness matrix pick it up from here.
 */
export const KERNEL_FAMILIES = { gemm: gemmKernels, gemv: gemvKernels, gemm_tiled: gemmTiledKernels } as const satisfies Record<
  KernelVariant,
  { f32: KernelDef; f16: KernelDef }
>;

export const KERNELS: readonly KernelDef[] = [
  ...Object.values(KERNEL_FAMILIES).flatMap((k) => [k.f32, k.f16]),
  // A gemm step with a mean prologue (global average pooling + Linear): its only kernel.
  gemmMeanKernels.f32,
  gemmMeanKernels.f16,
  layernorm,
  elementwise,
  // Convolutions (implicit GEMM, channels-last) and pooling: one kernel each, chosen for their step kinds.
  convKernels.f32,
  convKernels.f16,
  pool,
];
