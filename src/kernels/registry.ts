import { gemmKernel } from './gemm.js';
import type { KernelDef } from './kernel.js';

/**
 * Every dispatchable kernel by name: the shader it runs and the override constants that make
 * this variant. A pipeline is compiled per name; the cache key is the name alone, because
 * shapes travel in uniforms.
 */
export const KERNELS = {
  /** y = x·W + b (heads). */
  linear: { kernel: gemmKernel, constants: { SHORTCUT: 0, RELU: 0 } },
  /** y = relu(x·W + b) (stems, first half of a residual block). */
  linear_relu: { kernel: gemmKernel, constants: { SHORTCUT: 0, RELU: 1 } },
  /** y = relu(h·W2 + b2 + x) (second half of a block, identity shortcut). */
  residual_identity: { kernel: gemmKernel, constants: { SHORTCUT: 1, RELU: 1 } },
  /** y = relu([h | x]·[W2 ; Ws] + b2 + bs) (second half of a block, projection shortcut). */
  residual_projection: { kernel: gemmKernel, constants: { SHORTCUT: 2, RELU: 1 } },
} as const satisfies Record<string, { kernel: KernelDef; constants: Record<string, number> }>;

export type KernelName = keyof typeof KERNELS;
