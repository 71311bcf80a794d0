import { rowSize } from '../../graph/op-graph.js';
import type { FusedModel, Step } from '../../graph/steps.js';
import { assignBuffers } from '../buffer-assignment.js';
import { DESCRIPTOR_BYTES, EPILOGUE_PANEL_BYTES, PANELS_FIELD, writeDescriptor } from './descriptor.js';

/**
 * Where everything lives in the WebAssembly memory, and the step table the module runs
 * (the descriptor format is documented at the top of gemm.wat):
 *
 *   [control words | step table | packed weights and epilogue vectors, step by step | activations]
 *
 * Weights are laid out from the shapes alone, so the memory can be made as soon as a
 * file's header is in. Activations are row-major, every value with the row stride of the widest
 * (a multiple of 8 floats, one panel); three buffers or so serve any depth
 * (buffer-assignment.ts), sized for the rows of a chunk.
 */

/** Output columns per weight panel: the micro-kernels' tile width. */
export const PANEL = 8;
/** i32 indices of the control words at address 0; gemm.wat owns the first two. */
export const CONTROL = { barrierCount: 0, barrierGeneration: 1, go: 2, quit: 3, plan: 4, steps: 5, threads: 6, done: 7 } as const;
const CONTROL_BYTES = 64;
/** Regions start on cache lines. */
const ALIGN = 64;

export const padFeatures = (n: number) => Math.ceil(n / PANEL) * PANEL;
const align = (bytes: number) => Math.ceil(bytes / ALIGN) * ALIGN;

export interface PackedStepLayout {
  step: Step;
  panels: number;
  /**
   * Byte offsets of the step's weights (gemm: the panels of [W ; Ws]; layernorm: γ, padded to
   * panels; elementwise: none, so equal to `epilogue`) and of its epilogue vectors (bias, scale,
   * shift per panel).
   */
  weights: number;
  epilogue: number;
}

export interface WasmLayout {
  steps: PackedStepLayout[];
  /** Byte offset of the step table. */
  plan: number;
  /** First byte after the weights: where activations start. */
  weightsEnd: number;
  /** Bytes of weights and epilogue vectors, padding included. */
  weightBytes: number;
  /** Row stride in bytes of each value (0: the input; i + 1: step i's output): all the same. */
  strides: number[];
  bufferOf: number[];
  bufferCount: number;
  /** Bytes per row of one activation buffer: the widest value's stride. */
  bufferRowBytes: number;
}

/** Floats of weights a step reads, padding included. */
function weightFloats(step: Step, panels: number): number {
  if (step.kind === 'gemm') return panels * (step.inFeatures + step.shortcutFeatures) * PANEL;
  return step.kind === 'layernorm' ? panels * PANEL : 0;
}

export function layoutModel(fused: FusedModel): WasmLayout {
  const plan = CONTROL_BYTES;
  let end = align(plan + fused.steps.length * DESCRIPTOR_BYTES);
  const weightsStart = end;
  const steps = fused.steps.map((step) => {
    const panels = Math.ceil(step.outFeatures / PANEL);
    const weights = end;
    const epilogue = align(weights + weightFloats(step, panels) * 4);
    end = align(epilogue + panels * EPILOGUE_PANEL_BYTES);
    return { step, panels, weights, epilogue };
  });
  // Every value has the same row stride, the widest value's: then row r of any value a buffer
  // holds sits at the same bytes, so threads that each own a range of rows never touch another
  // thread's bytes, even when a buffer passes from a narrow value to a wide one.
  const rowBytes = Math.max(...fused.values.map((v) => padFeatures(rowSize(v.shape)) * 4));
  const strides = new Array<number>(fused.values.length).fill(rowBytes);
  const { bufferOf, bufferCount } = assignBuffers(fused.steps.map((s) => (s.shortcut === null ? [s.input] : [s.input, s.shortcut])));
  return { steps, plan, weightsEnd: end, weightBytes: end - weightsStart, strides, bufferOf, bufferCount, bufferRowBytes: rowBytes };
}

/** Bytes of activation buffers for a chunk of `rows` rows. */
export function activationBytes(layout: WasmLayout, rows: number): number {
  return layout.bufferCount * align(rows * layout.bufferRowBytes);
}

/** Byte offset of the buffer holding value v, for chunks of `rows` rows. */
export function valueOffset(layout: WasmLayout, rows: number, v: number): number {
  return layout.weightsEnd + layout.bufferOf[v]! * align(rows * layout.bufferRowBytes);
}

/**
 * Writes the step table for a chunk of `rows` rows run on `threads` threads. Threads split the
 * rows (in 4-row tiles) when there are enough of them: each then runs its rows through the whole
 * model with no barrier between steps. With few rows they split each step's output panels, and
 * meet after every step.
 */
export function writePlan(layout: WasmLayout, rows: number, threads: number, words: Int32Array): void {
  const rowSplit = Math.floor(rows / 4) >= 2 * threads;
  const at = (v: number | null) => (v === null ? 0 : valueOffset(layout, rows, v));
  const stride = (v: number | null) => (v === null ? 0 : layout.strides[v]!);
  layout.steps.forEach(({ step, panels, weights, epilogue }, i) => {
    const { residual, affine, activation } = step.epilogue;
    writeDescriptor(words, layout.plan + i * DESCRIPTOR_BYTES, {
      kind: step.kind, rows, panels, columns: step.outFeatures,
      a: at(step.input), lda: stride(step.input), k1: step.kind === 'elementwise' ? 0 : step.inFeatures,
      x: at(step.shortcut), ldx: stride(step.shortcut), k2: step.shortcutFeatures,
      w: step.kind === 'elementwise' ? 0 : weights, e: epilogue,
      out: at(step.output), ldo: stride(step.output),
      splitPanels: !rowSplit, identity: residual === 'identity', affine,
      activation: activation.fn, slope: activation.slope, eps: step.eps,
    });
  });
}

/** Cuts every step of a written plan to its first output panel (the load's JIT warm-up, wasm-model.ts). */
export function firstPanelOnly(layout: WasmLayout, words: Int32Array): void {
  layout.steps.forEach((_, i) => (words[(layout.plan + i * DESCRIPTOR_BYTES + PANELS_FIELD) / 4] = 1));
}
