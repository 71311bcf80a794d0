import { BufferUsage } from './gpu-flags.js';
import { GpuLimitError } from '../errors.js';
import { packedWeightLength, packTransposed, padFeatures } from '../kernels/layout.js';
import { foldBatchNorm } from './fold.js';
import type { GemmStep, GemmStepShape } from './lower.js';

export interface Range {
  offset: number;
  size: number;
}

export interface UploadedWeights {
  /** One buffer holds every step's weight and bias, each range aligned for binding. */
  buffer: GPUBuffer;
  ranges: { weight: Range; bias: Range }[];
  bytes: number;
}

/**
 * One GPU buffer for every step's weight and bias, laid out from the shapes alone, so it can
 * be made before the weights have arrived. Fill it with uploadStep.
 */
export function allocateWeights(device: GPUDevice, steps: readonly GemmStepShape[]): UploadedWeights {
  const align = device.limits.minStorageBufferOffsetAlignment;
  let end = 0;
  const take = (floats: number): Range => {
    const offset = Math.ceil(end / align) * align;
    end = offset + floats * 4;
    return { offset, size: floats * 4 };
  };
  const ranges = steps.map((s) => ({
    weight: take(packedWeightLength(s.shortcutFeatures ? [s.inFeatures, s.shortcutFeatures] : [s.inFeatures], s.outFeatures)),
    bias: take(padFeatures(s.outFeatures)),
  }));
  const largest = Math.max(...ranges.map((r) => r.weight.size));
  if (end > device.limits.maxBufferSize || largest > device.limits.maxStorageBufferBindingSize) {
    throw new GpuLimitError(
      `The model's weights (${end} bytes, largest layer ${largest}) exceed this device's buffer limits ` +
        `(maxBufferSize ${device.limits.maxBufferSize}, maxStorageBufferBindingSize ${device.limits.maxStorageBufferBindingSize}).`,
    );
  }
  const buffer = device.createBuffer({
    label: 'resgpu weights',
    size: Math.max(end, 4),
    usage: BufferUsage.STORAGE | BufferUsage.COPY_DST,
  });
  return { buffer, ranges, bytes: end };
}

/**
 * Folds one step's BatchNorms into its weights (float64 arithmetic, no folded copy: the scale
 * is applied while packing), packs them in the kernel's layout and uploads them. `scratch`
 * is reused from step to step: writeBuffer copies before it returns.
 */
export function uploadStep(device: GPUDevice, weights: UploadedWeights, index: number, step: GemmStep, scratch: Float32Array<ArrayBuffer>): void {
  const { weight, bias } = weights.ranges[index]!;
  const folded = step.parts.map((p) => foldBatchNorm(p.linear, p.bn));
  const packedWeight = scratch.subarray(0, weight.size / 4);
  const scaled = step.parts.map(({ linear }, j) => ({ weight: linear.weight, inFeatures: linear.inFeatures, rowScale: folded[j]!.scale }));
  packTransposed(scaled, step.outFeatures, packedWeight);
  device.queue.writeBuffer(weights.buffer, weight.offset, packedWeight);
  // The dispatch's bias: the parts' folded biases summed (main + projection shortcut).
  const packedBias = scratch.subarray(0, bias.size / 4).fill(0);
  for (const f of folded) for (let o = 0; o < step.outFeatures; o++) packedBias[o]! += f.bias[o]!;
  device.queue.writeBuffer(weights.buffer, bias.offset, packedBias);
}

/** Floats of scratch space uploadStep needs for any of these weights. */
export function scratchLength(weights: UploadedWeights): number {
  return Math.max(...weights.ranges.map((r) => Math.max(r.weight.size, r.bias.size) / 4));
}
