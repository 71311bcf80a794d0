import { GpuLimitError } from '../../errors.js';
import type { FusedModel, Step } from '../../graph/steps.js';
import type { DeviceCaps, KernelDef, RunData } from '../../kernels/kernel.js';
import type { DispatchDescription } from '../../model.js';
import { assignBuffers } from '../buffer-assignment.js';
import { FEATURE_ALIGN, ROW_ALIGN, selectKernel, type Selection } from './select.js';

/**
 * How a model's activations are laid out on this backend, and what a batch size's plan
 * dispatches: pure arithmetic, no GPU objects, so describe() and the limit checks never
 * allocate. Every value is stored row-major with its width padded to FEATURE_ALIGN (fixed
 * at load: the weights are packed against these strides) and its rows padded to ROW_ALIGN,
 * the largest row padding any kernel needs.
 */

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

/** Row stride, in floats, of each value of the lowered model. */
export function valueStrides(model: FusedModel): number[] {
  return model.values.map((v) => roundUp(v.shape.reduce((n, d) => n * d, 1), FEATURE_ALIGN));
}

export interface PlannedDispatch {
  step: Step;
  kernel: KernelDef;
  run: RunData;
}

export interface PlanLayout {
  batch: number;
  /** Rows of every activation buffer. */
  rows: number;
  strides: readonly number[];
  /** bufferOf[v]: the activation buffer holding value v. */
  bufferOf: number[];
  bufferSizes: number[];
  dispatches: PlannedDispatch[];
}

export interface LayoutDevice extends DeviceCaps {
  limits: DeviceCaps['limits'] & Pick<GPUSupportedLimits, 'maxStorageBufferBindingSize' | 'maxBufferSize'>;
}

function layoutFor(model: FusedModel, strides: readonly number[], batch: number, device: LayoutDevice, selection: Selection): PlanLayout {
  // Rows are padded before choosing, so that measurements are keyed by what the kernels see.
  const rows = roundUp(batch, ROW_ALIGN);
  const kernels = model.steps.map((s) => selectKernel(s, rows, device, selection));
  const { bufferOf, bufferCount } = assignBuffers(model.steps.map((s) => (s.shortcut === null ? [s.input] : [s.input, s.shortcut])));
  const bufferSizes = new Array<number>(bufferCount).fill(0);
  strides.forEach((w, v) => (bufferSizes[bufferOf[v]!] = Math.max(bufferSizes[bufferOf[v]!]!, rows * w * 4)));
  const dispatches = model.steps.map((step, i) => ({ step, kernel: kernels[i]!, run: kernels[i]!.runData(step, { rows, strides }) }));
  return { batch, rows, strides, bufferOf, bufferSizes, dispatches };
}

function fits(layout: PlanLayout, device: LayoutDevice): boolean {
  const maxBytes = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
  return layout.bufferSizes.every((b) => b <= maxBytes) && layout.dispatches.every((d) => d.run.workgroups.every((g) => g <= maxGroups));
}

/** The layout of a batch size; a batch beyond the device's limits fails naming the largest that fits. */
export function planLayout(model: FusedModel, strides: readonly number[], batch: number, device: LayoutDevice, selection: Selection): PlanLayout {
  const layout = layoutFor(model, strides, batch, device, selection);
  if (fits(layout, device)) return layout;
  // Everything grows with the batch, so the largest batch that fits is found by bisection.
  let [lo, hi] = [0, batch];
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(layoutFor(model, strides, mid, device, selection), device)) lo = mid;
    else hi = mid;
  }
  throw new GpuLimitError(
    `Batch ${batch} is too large for this device: it allows at most ${lo} rows for this model ` +
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

/** [batch, width] → the value's buffer layout [rows, stride], zero padded. Returns x itself when already aligned. */
export function padActivations(x: Float32Array<ArrayBuffer>, batch: number, width: number, rows: number, stride: number): Float32Array<ArrayBuffer> {
  if (stride === width && rows === batch) return x;
  const out = new Float32Array(rows * stride);
  for (let r = 0; r < batch; r++) out.set(x.subarray(r * width, (r + 1) * width), r * stride);
  return out;
}

/** The inverse of padActivations: the first `batch` rows, each cut to `width`. */
export function unpadActivations(y: Float32Array, batch: number, width: number, stride: number): Float32Array {
  if (stride === width) return y.slice(0, batch * width);
  const out = new Float32Array(batch * width);
  for (let r = 0; r < batch; r++) out.set(y.subarray(r * stride, r * stride + width), r * width);
  return out;
}
