import { GraphError } from '../../errors.js';
import { rowSize } from '../../graph/op-graph.js';
import type { AnyFusedModel, AnyStep, PoolGeometry } from '../../graph/steps.js';
import { assignBuffers } from '../buffer-assignment.js';
import { DESCRIPTOR_BYTES, EPILOGUE_PANEL_BYTES, PANELS_FIELD, writeDescriptor } from './descriptor.js';
import { MAX_CONV_BLOCK_PIXELS, convSegments, GEOMETRY_BYTES, isImageStep, pixelFloats, winogradFits, winogradScratchBytes, writeGeometry } from './geometry.js';

/**
 * Where everything lives in the WebAssembly memory, and the step table the module runs
 * (the descriptor format is documented at the top of gemm.wat, the image geometry at the top of
 * image.wat):
 *
 *   [control words | step table | image geometries | packed weights and epilogue vectors, step
 *    by step | a zero row | the image steps' scratch, per thread | activations]
 *
 * Weights are laid out from the shapes alone, so the memory can be made as soon as a
 * file's header is in. Activations are row-major, every value with the row stride of the widest
 * (a multiple of 8 floats, one panel); three buffers or so serve any depth
 * (buffer-assignment.ts), sized for the rows of a chunk. An image value [C, H, W] is stored
 * channels-last in its row: H·W pixels of C channels padded to 8 (as on WebGPU), so a conv is an
 * implicit GEMM over pixels and its epilogue per channel, as a Linear's per column.
 *
 * A gemm step with a mean prologue (global average pooling + Linear) runs as two descriptors: the
 * pool's (image.wat: each channel's mean, its pixels summed in order) into a buffer of its own,
 * the `means`, then the GEMM on them; the threads meet between the two. Each row's means and
 * sums are then what the separate pool and gemm steps computed, bit for bit, whatever the batch
 * or the thread count.
 */

/** Output columns per weight panel: the micro-kernels' tile width. */
export const PANEL = 8;
/** i32 indices of the control words at address 0; gemm.wat owns the first two, image.wat reads 8 and 9. */
export const CONTROL = { barrierCount: 0, barrierGeneration: 1, go: 2, quit: 3, plan: 4, steps: 5, threads: 6, done: 7, scratch: 8, scratchStride: 9 } as const;
const CONTROL_BYTES = 64;
/** Regions start on cache lines. */
const ALIGN = 64;

export const padFeatures = (n: number) => Math.ceil(n / PANEL) * PANEL;
const align = (bytes: number) => Math.ceil(bytes / ALIGN) * ALIGN;

export interface PackedStepLayout {
  step: AnyStep;
  panels: number;
  /**
   * Byte offsets of the step's weights (gemm: the panels of [W ; Ws]; conv: the panels of its
   * taps' and projection's weights; layernorm: γ, padded to panels; elementwise and pool: none,
   * so equal to `epilogue`) and of its epilogue vectors (bias, scale, shift per panel).
   */
  weights: number;
  epilogue: number;
  /** Image steps (image.wat), and the pool of a gemm step's mean prologue: the byte offset of the geometry; 0 otherwise. */
  geometry: number;
  /** A conv run as Winograd F(2×2, 3×3) (geometry.ts winogradFits), its weights transformed. */
  winograd: boolean;
  /** A mean prologue's epilogue vectors (−0 biases: the means as they are); 0 without one. */
  prologue: number;
}

export interface WasmLayout {
  model: AnyFusedModel;
  steps: PackedStepLayout[];
  /** Descriptors in the step table: one per step, two for a step with a mean prologue. */
  descriptors: number;
  /** The activation buffer holding a mean prologue's means (rows of padded channels), or −1. */
  means: number;
  /** Byte offset of the step table. */
  plan: number;
  /** First byte after the weights, the zero row and the scratch: where activations start. */
  weightsEnd: number;
  /** Bytes of weights and epilogue vectors, padding included. */
  weightBytes: number;
  /** A row of zeros, as wide as any image pixel: where a conv's taps in the padding read. */
  zero: number;
  /** The image steps' scratch of thread 0, and the bytes of each thread's. */
  scratch: number;
  scratchStride: number;
  /** Whether some step is an image step: then threads always meet after each step. */
  images: boolean;
  /** Whether the convs that fit run as Winograd (layoutModel's argument). */
  winograd: boolean;
  /** Row stride in bytes of each value (0: the input; i + 1: step i's output): all the same. */
  strides: number[];
  bufferOf: number[];
  bufferCount: number;
  /** Bytes per row of one activation buffer: the widest value's stride. */
  bufferRowBytes: number;
}

/** Whether a value is stored as an image (channels-last pixels) rather than a row of features. */
export const isImage = (shape: readonly number[]) => shape.length === 3 && shape[1]! * shape[2]! > 1;

/** Floats of one row of a value: an image's pixels of padded channels, or its padded features. */
const valueFloats = (shape: readonly number[]) => (isImage(shape) ? shape[1]! * shape[2]! * pixelFloats(shape) : padFeatures(rowSize(shape)));

/** Floats of weights a step reads, padding included. */
function weightFloats(model: AnyFusedModel, step: AnyStep, panels: number, winograd: boolean): number {
  if (step.kind === 'gemm') return panels * (step.inFeatures + step.shortcutFeatures) * PANEL;
  if (step.kind === 'conv') {
    const { taps, k1, k2 } = convSegments(model, step, winograd);
    return panels * (taps * k1 + k2) * PANEL;
  }
  return step.kind === 'layernorm' ? panels * PANEL : 0;
}

/**
 * Images are stored channels-last, where flattening an image of more than one pixel is a
 * permutation, not the free reshape the fusion pass makes of it: refused rather than silently
 * wrong (global pooling then flatten, [C, 1, 1] → [C], is the identity and runs).
 */
function checkChannelsLast(model: AnyFusedModel): void {
  for (const s of model.steps) {
    const reads = s.shortcut === null ? [s.input] : [s.input, s.shortcut];
    const shapes = [...reads, s.output].map((v) => model.values[v]!.shape);
    let ok = isImageStep(model, s) ? reads.every((v) => model.values[v]!.shape.length === 3) && (s.kind !== 'elementwise' || shapes.every((x) => x.join() === shapes[0]!.join())) : !shapes.some(isImage);
    // A mean prologue reads its input as an image (pixel by pixel), then rows of features.
    if (s.prologue === 'mean_pixels') ok = shapes[0]!.length === 3 && !shapes.slice(1).some(isImage);
    if (!ok) {
      throw new GraphError(
        `${s.label} reads an image of [${model.values[s.input]!.shape.join(', ')}] per row as a row of features (a flatten of more than one pixel): ` +
          "the WebAssembly backend stores images channels-last (NHWC), where that flatten is not the identity. Pool to 1×1 first (global average pooling), or load with { backend: 'cpu' }.",
      );
    }
  }
}

/** `winograd`: whether the convs that fit run as Winograd F(2×2, 3×3) (wasmTuning.winograd); fixed at load, since it decides the weights' layout. */
export function layoutModel(fused: AnyFusedModel, threads: number, winograd: boolean): WasmLayout {
  checkChannelsLast(fused);
  const plan = CONTROL_BYTES;
  const descriptors = fused.steps.length + fused.steps.filter((s) => s.prologue === 'mean_pixels').length;
  const geometries = align(plan + descriptors * DESCRIPTOR_BYTES);
  let end = align(geometries + fused.steps.length * GEOMETRY_BYTES);
  const weightsStart = end;
  let maxSegments = 0;
  let maxRow = 0; // floats of a compact conv's window row
  let winogradScratch = 0;
  const steps = fused.steps.map((step) => {
    const panels = Math.ceil(step.channels / PANEL);
    const wino = winograd && winogradFits(fused, step);
    const weights = end;
    const epilogue = align(weights + weightFloats(fused, step, panels, wino) * 4);
    end = align(epilogue + panels * EPILOGUE_PANEL_BYTES);
    const prologue = step.prologue === 'mean_pixels' ? end : 0;
    if (prologue) end = align(prologue + meanPanels(fused, step) * EPILOGUE_PANEL_BYTES);
    if (step.kind === 'conv') {
      const { taps, k1, k2, compact } = convSegments(fused, step, wino);
      if (wino) winogradScratch = Math.max(winogradScratch, winogradScratchBytes(k1));
      else maxSegments = Math.max(maxSegments, taps + (k2 > 0 ? 1 : 0));
      if (compact) maxRow = Math.max(maxRow, k1);
    }
    const geometry = isImageStep(fused, step) || prologue ? geometries + step.index * GEOMETRY_BYTES : 0;
    return { step, panels, weights, epilogue, geometry, winograd: wino, prologue };
  });
  const weightBytes = end - weightsStart;
  const images = steps.some((s) => s.geometry > 0);
  const zero = end;
  end = align(zero + Math.max(...fused.values.map((v) => (v.shape.length === 3 ? pixelFloats(v.shape) : 0))) * 4);
  // A block's compact window rows, then its tables: per tile of 4 pixels, 4 addresses per
  // segment, then the outputs' and the residuals'.
  // A Winograd conv's scratch: its block's transformed tiles and products (geometry.ts).
  const scratchStride = Math.max(align(MAX_CONV_BLOCK_PIXELS * maxRow * 4 + 16) + align((MAX_CONV_BLOCK_PIXELS / 4) * (maxSegments + 2) * 16), align(winogradScratch));
  const scratch = end;
  end += images ? threads * scratchStride : 0;
  // Every value has the same row stride, the widest value's: then row r of any value a buffer
  // holds sits at the same bytes, so threads that each own a range of rows never touch another
  // thread's bytes, even when a buffer passes from a narrow value to a wide one.
  const rowBytes = Math.max(...fused.values.map((v) => valueFloats(v.shape) * 4));
  const strides = new Array<number>(fused.values.length).fill(rowBytes);
  const assigned = assignBuffers(fused.steps.map((s) => (s.shortcut === null ? [s.input] : [s.input, s.shortcut])));
  const { bufferOf } = assigned;
  // The means get a buffer of their own, apart from every value's.
  const means = descriptors > steps.length ? assigned.bufferCount : -1;
  const bufferCount = assigned.bufferCount + (means >= 0 ? 1 : 0);
  return { model: fused, steps, descriptors, means, plan, weightsEnd: end, weightBytes, zero, scratch, scratchStride, images, winograd, strides, bufferOf, bufferCount, bufferRowBytes: rowBytes };
}

/** Bytes of activation buffers for a chunk of `rows` rows. */
export function activationBytes(layout: WasmLayout, rows: number): number {
  return layout.bufferCount * align(rows * layout.bufferRowBytes);
}

/** Byte offset of activation buffer `buffer`, for chunks of `rows` rows. */
const bufferOffset = (layout: WasmLayout, rows: number, buffer: number) => layout.weightsEnd + buffer * align(rows * layout.bufferRowBytes);

/** Byte offset of the buffer holding value v, for chunks of `rows` rows. */
export function valueOffset(layout: WasmLayout, rows: number, v: number): number {
  return bufferOffset(layout, rows, layout.bufferOf[v]!);
}

/**
 * Writes the step table for a chunk of `rows` rows run on `threads` threads. Threads split the
 * rows (in 4-row tiles) when there are enough of them: each then runs its rows through the whole
 * model with no barrier between steps. With few rows they split each step's output panels, and
 * meet after every step. A model with image steps always meets after every step (a conv reads
 * its neighbours' pixels): its image steps split the output pixels, or the channel panels when
 * there are few pixels; its other steps split the panels.
 */
export function writePlan(layout: WasmLayout, rows: number, threads: number, words: Int32Array, ordered = false, convBlock?: number): void {
  const rowSplit = !layout.images && Math.floor(rows / 4) >= 2 * threads;
  const at = (v: number | null) => (v === null ? 0 : valueOffset(layout, rows, v));
  const stride = (v: number | null) => (v === null ? 0 : layout.strides[v]!);
  const { model } = layout;
  words[CONTROL.scratch] = layout.scratch;
  words[CONTROL.scratchStride] = layout.scratchStride;
  let i = 0; // the next descriptor
  for (const { step, panels, weights, epilogue, geometry, winograd, prologue } of layout.steps) {
    const { residual, affine, activation } = step.epilogue;
    // The GEMM's left operand: the input, or after a mean prologue the means.
    let [a, lda] = [at(step.input), stride(step.input)];
    if (prologue) {
      // The pool first: a global average pooling of the input into the means buffer, as a
      // pool step into a [C, 1, 1] value would (one output pixel per row).
      const means = bufferOffset(layout, rows, layout.means);
      const pooled = { ...model, values: [...model.values, { shape: [step.inFeatures, 1, 1] }] };
      const pool = { ...step, kind: 'pool' as const, pool: GLOBAL_MEAN, output: model.values.length, shortcut: null, channels: step.inFeatures };
      writeGeometry(words, geometry, pooled, pool, false, layout.zero, convBlock);
      writeDescriptor(words, layout.plan + i++ * DESCRIPTOR_BYTES, {
        kind: 'pool', rows, panels: meanPanels(model, step), columns: step.inFeatures,
        a, lda, k1: 0, x: 0, ldx: 0, k2: 0, w: 0, e: prologue, out: means, ldo: layout.bufferRowBytes,
        splitPanels: true, splitPixels: Math.floor(rows / 4) >= 2 * threads, identity: false, affine: false,
        activation: 'none', slope: 0, eps: 0, ordered, geometry,
      });
      [a, lda] = [means, layout.bufferRowBytes];
    }
    let k1 = step.kind === 'elementwise' ? 0 : step.inFeatures;
    let k2 = step.shortcutFeatures;
    let splitPixels = false;
    if (geometry > 0 && !prologue) {
      writeGeometry(words, geometry, model, step, winograd, layout.zero, convBlock);
      const out = model.values[step.output]!.shape;
      const [outH, outW] = out.length === 3 ? [out[1]!, out[2]!] : [1, 1];
      // A Winograd conv's threads split its tiles of 2×2 output pixels.
      const units = winograd ? rows * Math.ceil(outH / 2) * Math.ceil(outW / 2) : rows * outH * outW;
      splitPixels = Math.floor(units / 4) >= (winograd ? 1 : 2) * threads;
      ({ k1, k2 } = step.kind === 'conv' ? convSegments(model, step, winograd) : { k1: 0, k2: 0 });
    }
    writeDescriptor(words, layout.plan + i++ * DESCRIPTOR_BYTES, {
      kind: geometry > 0 && step.kind === 'elementwise' ? 'pool' : step.kind, rows, panels, columns: step.channels,
      a, lda, k1,
      x: at(step.shortcut), ldx: stride(step.shortcut), k2,
      w: step.kind === 'elementwise' || step.kind === 'pool' ? 0 : weights, e: epilogue,
      out: at(step.output), ldo: stride(step.output),
      splitPanels: !rowSplit, splitPixels, identity: residual === 'identity', affine,
      activation: activation.fn, slope: activation.slope, eps: step.eps, ordered, geometry: prologue ? 0 : geometry,
    });
  }
}

/** A global average pooling's window (geometry.ts sizes it to the input). */
const GLOBAL_MEAN = { op: 'global_avgpool', kernel: [1, 1], stride: [1, 1], padding: [0, 0], dilation: [1, 1], countIncludePad: true } as const satisfies PoolGeometry;

/** Panels of 8 channels of a mean prologue's means. */
export const meanPanels = (model: AnyFusedModel, step: AnyStep) => Math.ceil(model.values[step.input]!.shape[0]! / PANEL);

/** Cuts every step of a written plan to its first output panel (the load's JIT warm-up, wasm-model.ts). */
export function firstPanelOnly(layout: WasmLayout, words: Int32Array): void {
  for (let i = 0; i < layout.descriptors; i++) words[(layout.plan + i * DESCRIPTOR_BYTES + PANELS_FIELD) / 4] = 1;
}
