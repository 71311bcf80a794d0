import { BufferUsage } from './gpu-flags.js';
import { GpuLimitError } from '../errors.js';
import { packedWeightLength, packTransposed, padFeatures } from '../kernels/layout.js';
import type { ProgressCallback } from '../loader/source.js';
import { foldBatchNorm } from './fold.js';
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
 * Folds and uploads the weights one step at a time into one GPU buffer: only one layer's
 * folded (float64) and packed (f32) copies exist at any moment, so loading never holds a
 * second copy of the model in JS memory.
 */
export function uploadWeights(device: GPUDevice, steps: readonly GemmStep[], onProgress?: ProgressCallback): UploadedWeights {
  const align = device.limits.minStorageBufferOffsetAlignment;
  let end = 0;
  const take = (floats: number): Range => {
    const offset = Math.ceil(end / align) * align;
    end = offset + floats * 4;
    return { offset, size: floats * 4 };
  };
  const ranges = steps.map((s) => ({
    weight: take(packedWeightLength(s.parts.map((p) => p.linear), s.outFeatures)),
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
  // One scratch array serves every step: writeBuffer copies the data before it returns.
  const scratch = new Float32Array(Math.max(...ranges.map((r) => (r.weight.size + r.bias.size) / 4)));
  let uploaded = 0;
  steps.forEach((s, i) => {
    const { weight, bias } = ranges[i]!;
    onProgress?.({ stage: 'fold', loadedBytes: uploaded, totalBytes: end });
    const folded = s.parts.map((p) => foldBatchNorm(p.linear, p.bn));
    const packedWeight = scratch.subarray(0, weight.size / 4);
    const scaled = s.parts.map(({ linear }, j) => ({ weight: linear.weight, inFeatures: linear.inFeatures, rowScale: folded[j]!.scale }));
    packTransposed(scaled, s.outFeatures, packedWeight);
    device.queue.writeBuffer(buffer, weight.offset, packedWeight);
    // The dispatch's bias: the parts' folded biases summed (main + projection shortcut).
    const packedBias = scratch.subarray(0, bias.size / 4).fill(0);
    for (const f of folded) for (let o = 0; o < s.outFeatures; o++) packedBias[o]! += f.bias[o]!;
    device.queue.writeBuffer(buffer, bias.offset, packedBias);
    uploaded = bias.offset + bias.size;
    onProgress?.({ stage: 'upload', loadedBytes: uploaded, totalBytes: end });
  });
  return { buffer, ranges, bytes: end };
}
