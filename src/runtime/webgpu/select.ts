import type { Step } from '../../graph/lower.js';
import type { DeviceCaps, KernelDef, WeightLayout } from '../../kernels/kernel.js';
import { KERNELS } from '../../kernels/registry.js';
import { transposedWeights } from '../../kernels/transposed-weights.js';

/**
 * The one place a kernel is chosen for a step at a batch size on a device. Today one kernel,
 * gemm, serves every step; new kernels (GEMV for small batches, workgroup-tiled GEMM) get
 * their rule here. Only kernels reading this backend's weight layout are candidates, since
 * weights are packed once at load, before any batch size is known.
 */
export const WEIGHT_LAYOUT: WeightLayout = transposedWeights;

export function candidates(step: Step, device: DeviceCaps): KernelDef[] {
  return KERNELS.filter((k) => k.weights.name === WEIGHT_LAYOUT.name && k.supports(step, device));
}

export function selectKernel(step: Step, _batch: number, device: DeviceCaps): KernelDef {
  const kernel = candidates(step, device)[0];
  if (!kernel) throw new Error(`resgpu bug: no kernel supports step ${step.label}`);
  return kernel;
}

/** Activation widths are padded to the widest feature padding any candidate kernel needs, once per model. */
export const FEATURE_ALIGN = Math.max(...KERNELS.filter((k) => k.weights.name === WEIGHT_LAYOUT.name).map((k) => k.padding.features));
