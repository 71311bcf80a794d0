import { GpuLimitError } from '../../errors.js';
import { forEachStepAsNodesArrive } from '../../graph/arrival.js';
import { foldStep } from '../../graph/fold.js';
import type { OpGraph, OpNode } from '../../graph/op-graph.js';
import type { AnyFusedModel, AnyStep } from '../../graph/steps.js';
import type { ProgressCallback } from '../../graph/stream.js';
import { WEIGHT_BYTES, type Precision } from '../../kernels/dense.js';
import { packParams, paramsLength } from '../../kernels/kernel.js';
import { withErrorScopes } from './error-scopes.js';
import { release } from '../../memory.js';
import { BufferUsage } from './gpu-flags.js';
import { toHalves } from './half.js';
import { weightLayout } from './select.js';

export interface Range {
  offset: number;
  size: number;
}

export interface UploadedWeights {
  /** One buffer holds every step's weights and epilogue parameters, each range aligned for binding. */
  buffer: GPUBuffer;
  /** How GEMM weights are stored (everything else is f32). */
  precision: Precision;
  /** By step index of the fused model; `weight` has size 0 for steps that read none. */
  ranges: { weight: Range; params: Range }[];
  bytes: number;
}

/** Bytes per stored weight element of a step: its layout's, at the model's precision where the layout follows it. */
function elementBytes(step: AnyStep, precision: Precision): number {
  return weightLayout(step.kind).followsPrecision ? WEIGHT_BYTES[precision] : 4;
}

/**
 * One GPU buffer for every step's weights and epilogue parameters, laid out from the shapes
 * alone, so it can be made before the weights have arrived. Fill it with uploadStep. A failed
 * allocation is a GpuLimitError, whether the limits forbid it or the device runs out of memory.
 */
export async function allocateWeights(device: GPUDevice, model: AnyFusedModel, strides: readonly number[], precision: Precision): Promise<UploadedWeights> {
  const align = device.limits.minStorageBufferOffsetAlignment;
  let end = 0;
  const take = (bytes: number): Range => {
    const offset = Math.ceil(end / align) * align;
    end = offset + bytes;
    return { offset, size: bytes };
  };
  const ranges = model.steps.map((s) => ({
    weight: take(weightLayout(s.kind).weightLength(s, strides) * elementBytes(s, precision)),
    params: take(paramsLength(s, strides) * 4),
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
export function scratchLength(model: AnyFusedModel, weights: UploadedWeights): number {
  const floats = (s: AnyStep) => weights.ranges[s.index]!.weight.size / elementBytes(s, weights.precision) + weights.ranges[s.index]!.params.size / 4;
  return model.steps.reduce((n, s) => Math.max(n, floats(s)), 0);
}

/**
 * Folds one step's BatchNorms into its weights (fold.ts, float64; the scales are applied while
 * packing, so no folded copy exists), packs them in the kernel's layout and uploads them.
 * `scratch` is reused from step to step: writeBuffer copies before it returns.
 */
export function uploadStep(
  device: GPUDevice,
  weights: UploadedWeights,
  step: AnyStep,
  nodes: readonly OpNode[],
  strides: readonly number[],
  scratch: Float32Array<ArrayBuffer>,
): void {
  const { weight, params } = weights.ranges[step.index]!;
  const folded = foldStep(step, nodes);
  const bytes = elementBytes(step, weights.precision);
  const weightFloats = weight.size / bytes;
  const packedWeight = scratch.subarray(0, weightFloats);
  const packedParams = scratch.subarray(weightFloats, weightFloats + params.size / 4);
  weightLayout(step.kind).pack(step, strides, folded, packedWeight);
  packParams(step, strides, folded, packedParams);
  if (weightFloats > 0) {
    // f16: rounded from the f32 of the folded weight (a float64 product), as PyTorch's .half() would.
    const stored = bytes === 2 ? toHalves(packedWeight, new Uint16Array(weightFloats)) : packedWeight;
    device.queue.writeBuffer(weights.buffer, weight.offset, stored);
  }
  device.queue.writeBuffer(weights.buffer, params.offset, packedParams);
}

/**
 * Folds, packs and uploads each step as soon as its nodes have arrived (arrival.ts), reporting
 * the fold and upload stages. The packing scratch is let go of (memory.ts) as soon as the last
 * step is up: held until the load returned, it was 12 MB of a ResNet-50's load memory still
 * counted while the pipelines finished compiling and the first inference was planned.
 */
export async function uploadAsNodesArrive(
  device: GPUDevice,
  weights: UploadedWeights,
  model: { shapes: Promise<OpGraph>; node(i: number): Promise<OpNode> },
  lowered: AnyFusedModel,
  strides: readonly number[],
  onProgress?: ProgressCallback,
): Promise<void> {
  const scratch = new Float32Array(scratchLength(lowered, weights));
  await forEachStepAsNodesArrive(model, lowered, (step, nodes) => {
    const { weight, params } = weights.ranges[step.index]!;
    onProgress?.({ stage: 'fold', loadedBytes: weight.offset, totalBytes: weights.bytes });
    uploadStep(device, weights, step, nodes, strides, scratch);
    onProgress?.({ stage: 'upload', loadedBytes: params.offset + params.size, totalBytes: weights.bytes });
  });
  release(scratch); // writeBuffer copied every step's data before returning
}
