import type { ActivationFn, AnyStepKind } from '../../graph/steps.js';

/**
 * The step descriptor gemm.wat runs, field by field: the one TypeScript copy of the format
 * documented at the top of gemm.wat (test/wasm-steps.node.test.ts runs the module on
 * descriptors written here, so the two cannot drift apart unnoticed).
 */
export const DESCRIPTOR_BYTES = 80;
/** Bytes of epilogue vectors per panel: its 8 columns' bias, scale and shift. */
export const EPILOGUE_PANEL_BYTES = 96;

const KIND: Record<AnyStepKind, number> = { gemm: 0, layernorm: 1, elementwise: 2, conv: 3, pool: 4 };
/** The activation numbers of epilogue.wat's $activate. */
export const ACTIVATION: Record<ActivationFn, number> = { none: 0, relu: 1, leaky_relu: 2, gelu: 3, gelu_tanh: 4, silu: 5, sigmoid: 6, tanh: 7 };
const MODE_IDENTITY = 16;
const MODE_AFFINE = 32;

/** One step of a plan; byte offsets into the module's memory. */
export interface StepDescriptor {
  /** An elementwise step on an image of more than one pixel runs as 'pool' (a 1×1 max window: each value as it is). */
  kind: AnyStepKind;
  rows: number;
  /** Panels of 8 output columns. */
  panels: number;
  /** Real output columns (the rest of the last panel is written as zeros). */
  columns: number;
  /** The input (gemm: the left operand) and its row stride. */
  a: number;
  lda: number;
  /** gemm: the main inner size; layernorm: the features normalized; elementwise: unused (0). */
  k1: number;
  /** The identity residual or the projection's left operand, and its row stride; 0 without. */
  x: number;
  ldx: number;
  /** The projection's inner size (gemm), else 0. */
  k2: number;
  /** gemm: the weight panels; layernorm: γ; elementwise: 0. */
  w: number;
  /** The epilogue vectors (EPILOGUE_PANEL_BYTES per panel). */
  e: number;
  out: number;
  ldo: number;
  /** Threads split the panels (and meet after the step) rather than the rows. */
  splitPanels: boolean;
  /** Image steps: threads split the output pixels (and meet after the step); wins over splitPanels. */
  splitPixels?: boolean;
  /** Image steps: the byte offset of the step's geometry (geometry.ts). */
  geometry?: number;
  /** x is an identity residual, added in the epilogue at the output's columns. */
  identity: boolean;
  affine: boolean;
  activation: ActivationFn;
  /** leaky_relu's negative slope. */
  slope: number;
  /** layernorm's eps. */
  eps: number;
  /** Every row sums its inner dimension in one chain, in the 4-row tiles' order: bits independent of the batch (deterministic mode). */
  ordered?: boolean;
}

const f32Bits = new DataView(new ArrayBuffer(4));
function bitsOf(v: number): number {
  f32Bits.setFloat32(0, v, true);
  return f32Bits.getInt32(0, true);
}

/** Writes descriptor `d` at byte offset `at` of the memory seen as `words`. */
export function writeDescriptor(words: Int32Array, at: number, d: StepDescriptor): void {
  const mode = ACTIVATION[d.activation] | (d.identity ? MODE_IDENTITY : 0) | (d.affine ? MODE_AFFINE : 0);
  words.set(
    [
      KIND[d.kind], d.rows, d.panels, d.a, d.lda, d.k1, d.x, d.ldx, d.k2, d.w, d.e, d.out, d.ldo,
      d.splitPixels ? 2 : d.splitPanels ? 1 : 0, mode, bitsOf(d.slope), d.columns, bitsOf(d.eps), d.ordered ? 1 : 0, d.geometry ?? 0,
    ],
    at / 4,
  );
}

/** Byte offset of the `panels` field of the descriptor at `at` (the load's warm-up cuts it to 1). */
export const PANELS_FIELD = 8;
