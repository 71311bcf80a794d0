import { BufferUsage } from './gpu-flags.js';
import { GpuLimitError } from '../errors.js';
import { packBias, packedWeightLength, packTransposed, padFeatures } from '../kernels/layout.js';
import type { GemmStep } from './lower.js';

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
 * Packs every step's folded weights straight into one mapped GPU buffer: no intermediate
 * f32 copy of the model, one allocation, one unmap.
 */
export function uploadWeights(device: GPUDevice, steps: readonly GemmStep[]): UploadedWeights {
  const align = device.limits.minStorageBufferOffsetAlignment;
  let end = 0;
  const take = (floats: number): Range => {
    const offset = Math.ceil(end / align) * align;
    end = offset + floats * 4;
    return { offset, size: floats * 4 };
  };
  const ranges = steps.map((s) => ({
    weight: take(packedWeightLength(s.parts, s.outFeatures)),
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
    usage: BufferUsage.STORAGE,
    mappedAtCreation: true,
  });
  const mapped = buffer.getMappedRange();
  steps.forEach((s, i) => {
    const { weight, bias } = ranges[i]!;
    packTransposed(s.parts, s.outFeatures, new Float32Array(mapped, weight.offset, weight.size / 4));
    packBias(s.bias, new Float32Array(mapped, bias.offset, bias.size / 4));
  });
  buffer.unmap();
  return { buffer, ranges, bytes: end };
}
