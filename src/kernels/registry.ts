import { gemmKernel } from './gemm.js';
import type { KernelDef } from './kernel.js';

/**
 * Every WebGPU kernel resgpu can dispatch. Adding a kernel: its WGSL in shaders/, its
 * KernelDef in this folder, one line here, and a rule in runtime/webgpu/select.ts. The
 * reflection test and the correctness matrix pick it up from this list.
 */
export const KERNELS: readonly KernelDef[] = [gemmKernel];
