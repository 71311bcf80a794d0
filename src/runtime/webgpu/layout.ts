import { GpuLimitError, GraphError } from '../../errors.js';
import type { AnyFusedModel, AnyStep } from '../../graph/steps.js';
import type { DeviceCaps, KernelDef, RunData, StepLayout } from '../../kernels/kernel.js';
import type { DispatchDescription } from '../../model.js';
import { assignBuffers } from '../buffer-assignment.js';
import { FEATURE_ALIGN, ROW_ALIGN, selectKernel, type Selection } from './select.js';

/**
 * How a model's activations are laid out on this backend, and what a batch size's plan
 * dispatches: pure arithmetic, no GPU objects, so describe() and the limit checks never
 * allocate. A value of row shape [F] is stored row-major with its width padded to
 * FEATURE_ALIGN (fixed at load: the weights are packed against these strides); an image
 * [C, H, W] channels-last (NHWC), as batch·H·W pixel rows of C channels padded to
 * FEATURE_ALIGN, so that a convolution reads a pixel's channels as vec4s and its epilogue is
 * per column as a Linear's. Each value's rows are padded to ROW_ALIGN, the largest row padding
 * any kernel needs.
 */

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

/** Pixels per batch row of a value of this row shape: H·W for an image, 1 for a row of features. */
export const pixelsOf = (shape: readonly number[]): number => (shape.length === 3 ? shape[1]! * shape[2]! : 1);

/** Row stride, in floats, of each value of the lowered model: its features, or an image's channels per pixel. */
export function valueStrides(model: AnyFusedModel): number[] {
  checkChannelsLast(model);
  return model.values.map((v, i) => roundUp(v.shape.length === 3 ? v.shape[0]! : v.shape.reduce((n, d) => n * d, 1), i === 0 && narrowInput(model) ? 4 : FEATURE_ALIGN));
}

/**
 * Whether the model input, an image of at most 4 channels (RGB, grayscale), is stored with its
 * channels padded to 4 rather than 8: the conv kernel reads channels as vec4s, so the stem of an
 * RGB network then sums 4 channels per tap, not 8, halving its cost (the 7×7 stem is ~15% of a
 * ResNet-18's multiply-adds once padded to 8). Only where convolutions alone read the input, as
 * their main operand: the other kernels take 8 channels per invocation.
 */
function narrowInput(model: AnyFusedModel): boolean {
  const input = model.values[0]!.shape;
  if (input.length !== 3 || input[0]! > 4) return false;
  return model.steps.every((s) => (s.input !== 0 || s.kind === 'conv') && s.shortcut !== 0);
}

/**
 * Channels-last is not PyTorch's order, so flattening an image of more than one pixel is a
 * permutation here, not the free reshape the fusion pass makes of it: refused rather than
 * silently wrong. (Global pooling then flatten, [C, 1, 1] → [C], is the identity and runs.)
 */
function checkChannelsLast(model: AnyFusedModel): void {
  const image = (v: number) => pixelsOf(model.values[v]!.shape) > 1;
  for (const s of model.steps) {
    const reads = s.shortcut === null ? [s.input] : [s.input, s.shortcut];
    const sameLayout = (v: number) => model.values[v]!.shape.join() === model.values[s.output]!.shape.join();
    const rowsOnly = ![...reads, s.output].some(image);
    let ok: boolean;
    if (s.kind === 'conv' || s.kind === 'pool') ok = reads.every((v) => model.values[v]!.shape.length === 3);
    else if (s.kind === 'elementwise') ok = rowsOnly || reads.every(sameLayout); // per pixel row, as it is stored
    else if (s.prologue === 'mean_pixels') ok = model.values[s.input]!.shape.length === 3 && !image(s.output) && (s.shortcut === null || !image(s.shortcut)); // averages the pixels first
    else ok = rowsOnly;
    if (!ok) {
      throw new GraphError(
        `${s.label} reads an image of [${model.values[s.input]!.shape.join(', ')}] per row as a row of features (a flatten of more than one pixel): ` +
          "the WebGPU backend stores images channels-last (NHWC), where that flatten is not the identity. Pool to 1×1 first (global average pooling), or load with { backend: 'cpu' }.",
      );
    }
  }
}

/** The sizes every kernel of a plan sees at this batch. */
export function stepLayout(model: AnyFusedModel, strides: readonly number[], batch: number): StepLayout {
  return { rows: roundUp(batch, ROW_ALIGN), strides, batch, pixels: model.values.map((v) => pixelsOf(v.shape)), shapes: model.values.map((v) => v.shape) };
}

/** Bytes of value v's buffer at this layout: its pixel rows, padded to ROW_ALIGN, times its stride. */
export function valueBytes(layout: StepLayout, v: number): number {
  return roundUp(layout.batch * layout.pixels[v]!, ROW_ALIGN) * layout.strides[v]! * 4;
}

export interface PlannedDispatch {
  step: AnyStep;
  kernel: KernelDef;
  run: RunData;
}

export interface PlanLayout {
  batch: number;
  /** Rows of a one-pixel value's buffer (the batch, padded). */
  rows: number;
  strides: readonly number[];
  /** What the kernels were given. */
  steps: StepLayout;
  /** bufferOf[v]: the activation buffer holding value v. */
  bufferOf: number[];
  bufferSizes: number[];
  dispatches: PlannedDispatch[];
}

export interface LayoutDevice extends DeviceCaps {
  limits: DeviceCaps['limits'] & Pick<GPUSupportedLimits, 'maxStorageBufferBindingSize' | 'maxBufferSize'>;
}

function layoutFor(model: AnyFusedModel, strides: readonly number[], batch: number, device: LayoutDevice, selection: Selection): PlanLayout {
  // Rows are padded before choosing, so that measurements are keyed by what the kernels see.
  const steps = stepLayout(model, strides, batch);
  const rows = steps.rows;
  const kernels = model.steps.map((s) => selectKernel(s, rows, device, selection));
  const { bufferOf, bufferCount } = assignBuffers(model.steps.map((s) => (s.shortcut === null ? [s.input] : [s.input, s.shortcut])));
  const bufferSizes = new Array<number>(bufferCount).fill(0);
  strides.forEach((_, v) => (bufferSizes[bufferOf[v]!] = Math.max(bufferSizes[bufferOf[v]!]!, valueBytes(steps, v))));
  const dispatches = model.steps.map((step, i) => ({ step, kernel: kernels[i]!, run: kernels[i]!.runData(step, steps) }));
  return { batch, rows, strides, steps, bufferOf, bufferSizes, dispatches };
}

/** The first step whose output or dispatch passes a limit, and which limit; null when everything fits. */
function overLimit(layout: PlanLayout, device: LayoutDevice): string | null {
  const maxBytes = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
  if (valueBytes(layout.steps, 0) > maxBytes) return `the model input would take ${valueBytes(layout.steps, 0)} bytes, past maxStorageBufferBindingSize/maxBufferSize (${maxBytes})`;
  for (const { step, run } of layout.dispatches) {
    const bytes = valueBytes(layout.steps, step.output);
    if (bytes > maxBytes) return `step ${step.label} would write ${bytes} bytes, past maxStorageBufferBindingSize/maxBufferSize (${maxBytes})`;
    const groups = Math.max(...run.workgroups);
    if (groups > maxGroups) return `step ${step.label} would dispatch ${groups} workgroups along one dimension, past maxComputeWorkgroupsPerDimension (${maxGroups})`;
  }
  return null;
}

const fits = (layout: PlanLayout, device: LayoutDevice) => overLimit(layout, device) === null;

/** The layout of a batch size; a batch beyond the device's limits fails naming the largest that fits. */
export function planLayout(model: AnyFusedModel, strides: readonly number[], batch: number, device: LayoutDevice, selection: Selection): PlanLayout {
  const layout = layoutFor(model, strides, batch, device, selection);
  const over = overLimit(layout, device);
  if (over === null) return layout;
  // Everything grows with the batch, so the largest batch that fits is found by bisection.
  let [lo, hi] = [0, batch];
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(layoutFor(model, strides, mid, device, selection), device)) lo = mid;
    else hi = mid;
  }
  if (lo === 0) throw new GpuLimitError(`This model does not fit this device even at batch 1: at batch ${batch}, ${over}. Use a smaller input size, or { backend: 'cpu' }.`);
  throw new GpuLimitError(
    `Batch ${batch} is too large for this device (${over}): it allows at most ${lo} rows for this model ` +
      `(maxStorageBufferBindingSize ${device.limits.maxStorageBufferBindingSize} bytes, maxBufferSize ` +
      `${device.limits.maxBufferSize}, maxComputeWorkgroupsPerDimension ${device.limits.maxComputeWorkgroupsPerDimension}). ` +
      'Split the input into smaller batches.',
  );
}

export function describeDispatches(layout: PlanLayout): DispatchDescription[] {
  return layout.dispatches.map(({ step, kernel, run }) => ({
    kernel: step.op,
    variant: kernel.name,
    layer: step.label,
    nodes: step.nodes,
    batch: layout.batch,
    inFeatures: step.inFeatures,
    outFeatures: step.outFeatures,
    shortcutFeatures: step.shortcutFeatures,
    workgroups: run.workgroups,
  }));
}

/**
 * PyTorch's rows → value v's buffer, zero padded: [batch, width] → [rows, stride], or an image's
 * NCHW rows → channels-last pixel rows of `stride` channels. Returns x itself when already aligned.
 */
export function padActivations(x: Float32Array<ArrayBuffer>, layout: StepLayout, v: number): Float32Array<ArrayBuffer> {
  const { batch, strides, pixels, shapes } = layout;
  const [stride, plane] = [strides[v]!, pixels[v]!];
  const rows = valueBytes(layout, v) / 4 / stride;
  if (plane > 1) {
    const c = shapes[v]![0]!;
    const out = new Float32Array(rows * stride);
    for (let b = 0; b < batch; b++) {
      for (let ch = 0; ch < c; ch++) {
        const from = (b * c + ch) * plane;
        for (let p = 0; p < plane; p++) out[(b * plane + p) * stride + ch] = x[from + p]!;
      }
    }
    return out;
  }
  const width = x.length / batch;
  if (stride === width && rows === batch) return x;
  const out = new Float32Array(rows * stride);
  for (let r = 0; r < batch; r++) out.set(x.subarray(r * width, (r + 1) * width), r * stride);
  return out;
}

/** The inverse of padActivations: value v's buffer → `batch` rows in PyTorch's order (NCHW for an image). */
export function unpadActivations(y: Float32Array, layout: StepLayout, v: number): Float32Array {
  const { batch, strides, pixels, shapes } = layout;
  const [stride, plane] = [strides[v]!, pixels[v]!];
  const width = shapes[v]!.reduce((n, d) => n * d, 1);
  const out = new Float32Array(batch * width);
  if (plane > 1) {
    const c = shapes[v]![0]!;
    for (let b = 0; b < batch; b++) {
      for (let ch = 0; ch < c; ch++) for (let p = 0; p < plane; p++) out[(b * c + ch) * plane + p] = y[(b * plane + p) * stride + ch]!;
    }
    return out;
  }
  if (stride === width) return y.slice(0, batch * width);
  for (let r = 0; r < batch; r++) out.set(y.subarray(r * stride, r * stride + width), r * width);
  return out;
}
