/**
 * A kernel's name, as describe() reports it and as the `kernel` option forces it: declared with
 * the options (src/options.ts), so that the public declarations never reach a kernel definition
 * and its WebGPU types; registry.ts checks that it names every family.
 */
export { KERNEL_VARIANTS, type KernelVariant } from '../options.js';
