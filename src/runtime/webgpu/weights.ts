import { GpuLimitError } from '../../errors.js';
import { foldBatchNorm } from '../../graph/fold.js';
import type { DensePart, LoweredModel, Step } from '../../graph/lower.js';
import { withErrorScopes } from './error-scopes.js';
import { BufferUsage } from './gpu-flags.js';
import { WEIGHT_LAYOUT } from './select.js';
import { toHalves } from './half.js';
import { WEIGHT_BYTES, type Precision } from '../../kernels/dense.js';

export interface Range {
  offset: number;
  size: number;
}

export interface UploadedWeights {
  /** One buffer holds every step's weight and bias, each range aligned for binding. */
  buffer: GPUBuffer;
  /** How the weights are stored (biases are always f32). */
  precision: Precision;
  /** By step index of the lowered model. */
  ranges: { weight: Range; bias: Range }[];
  bytes: number;
}

/**
 * One GPU buffer for every step's weight and bias, laid out from the shapes alone, so it can
 * be made before the weights have arrived. Fill it with uploadStep. A failed allocation is a
 * GpuLimitError, whether the limits forbid it or the device runs out of memory.
 */
export async function allocateWeights(device: GPUDevice, model: LoweredModel, strides: readonly number[], precision: Precision): Promise<UploadedWeights> {
  const align = device.limits.minStorageBufferOffsetAlignment;
  let end = 0;
  const take = (bytes: number): Range => {
    const offset = Math.ceil(end / align) * align;
    end = offset + bytes;
    return { offset, size: bytes };
  };
  const ranges = model.steps.map((s) => ({
    weight: take(WEIGHT_LAYOUT.weightLength(s, strides) * WEIGHT_BYTES[precision]),
    bias: take(WEIGHT_LAYOUT.biasLength(s, strides) * 4),
  }));
  const largest = ranges.reduce((n, r) => Math.max(n, r.weight.size), 0);
  if (end > device.limits.maxBufferSize || largest > device.limits.maxStorageBufferBindingSize) {
    throw new GpuLimitError(
      `The model's weights (${end} bytes, largest layer ${largest}) exceed this device's buffer limits ` +
        `(maxBufferSize ${device.limits.maxBufferSize}, maxStorageBufferBindingSize ${device.limits.maxStorageBufferBindingSize}).`,
    );
  }
  let buffer: GPUBuffer | undefined;
  try {
    await withErrorScopes(device, `allocating ${end} bytes of weights`, () => {
      buffer = device.createBuffer({ label: 'resgpu weights', size: Math.max(end, 4), usage: BufferUsage.STORAGE | BufferUsage.COPY_DST });
    });
  } catch (e) {
    buffer?.destroy();
    throw e;
  }
  return { buffer: buffer!, precision, ranges, bytes: end };
}

/** Floats of scratch space uploadStep needs for any step of these weights. */
export function scratchLength(weights: UploadedWeights): number {
  const floats = (r: UploadedWeights['ranges'][number]) => r.weight.size / WEIGHT_BYTES[weights.precision] + r.bias.size / 4;
  return weights.ranges.reduce((n, r) => Math.max(n, floats(r)), 0);
}

/**
 * Folds one step's BatchNorms into its weights (float64 arithmetic; the scale is applied while
 * packing, so no folded copy exists), packs them in the backend's layout and uploads them.
 * `scratch` is reused from step to step: writeBuffer copies before it returns.
 */
export function uploadStep(
  device: GPUDevice,
  weights: UploadedWeights,
  step: Step,
  dense: readonly DensePart[],
  strides: readonly number[],
  scratch: Float32Array<ArrayBuffer>,
): void {
  const { weight, bias } = weights.ranges[step.index]!;
  const parts = dense.map(({ linear, bn }) => {
    const folded = foldBatchNorm(linear, bn);
    return { weight: linear.weight, inFeatures: linear.inFeatures, rowScale: folded.scale, bias: folded.bias };
  });
  const weightFloats = weight.size / WEIGHT_BYTES[weights.precision];
  const packedWeight = scratch.subarray(0, weightFloats);
  const packedBias = scratch.subarray(weightFloats, weightFloats + bias.size / 4);
  WEIGHT_LAYOUT.pack(step, strides, parts, packedWeight, packedBias);
  // f16: rounded from the f32 of the folded weight (a float64 product), as PyTorch's .half() would.
  const stored = weights.precision === 'f16' ? toHalves(packedWeight, new Uint16Array(weightFloats)) : packedWeight;
  device.queue.writeBuffer(weights.buffer, weight.offset, stored);
  device.queue.writeBuffer(weights.buffer, bias.offset, packedBias);
}
