/**
 * A kernel's name, as describe() reports it and as the `kernel` option forces it. Declared
 * apart from registry.ts so that the public declarations (options, tuning cache) never reach
 * a kernel definition and its WebGPU types; registry.ts checks that it names every family.
 */
export type KernelVariant = 'gemm' | 'gemv' | 'gemm_tiled';
