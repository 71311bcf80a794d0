import f16Weights from '../../shaders/weights_f16.wgsl?raw';
import f32Weights from '../../shaders/weights_f32.wgsl?raw';
import type { Step } from '../graph/lower.js';
import type { DeviceCaps, KernelBinding, KernelDef, RunData, StepLayout } from './kernel.js';
import { transposedWeights } from './transposed-weights.js';

/**
 * What every dense kernel (gemm, gemv, gemm_tiled) shares: one fused step y = epilogue(a · W + b),
 * the same bindings and uniform struct, exact zeros in padded output columns (out_cols), the
 * transposed weight layout, and the weight prelude
 * that lets one kernel body read f32 or f16 weights. A dense kernel adds only its WGSL body,
 * its workgroup size and padding, what it supports, and its dispatch size.
 */
export type Precision = 'f32' | 'f16';

const WEIGHT_PRELUDE: Record<Precision, string> = { f32: f32Weights, f16: f16Weights };

/** Bytes of one stored weight element. */
export const WEIGHT_BYTES: Record<Precision, number> = { f32: 4, f16: 2 };

const BINDINGS: readonly KernelBinding[] = [
  { name: 'shape', binding: 0, type: 'uniform' },
  { name: 'a', binding: 1, type: 'read-only-storage' },
  { name: 'x', binding: 2, type: 'read-only-storage' },
  { name: 'w', binding: 3, type: 'read-only-storage' },
  { name: 'bias', binding: 4, type: 'read-only-storage' },
  { name: 'y', binding: 5, type: 'storage' },
];

/** The residual of a step, as the shaders' SHORTCUT override numbers it. */
const SHORTCUT = { none: 0, identity: 1, projection: 2 } as const;

export interface DenseKernelSpec {
  name: string;
  /** The kernel body under shaders/ (the weight prelude is put in front of it). */
  file: string;
  body: string;
  overrides: readonly string[];
  workgroupSize: readonly [number, number, number];
  padding: { rows: number; features: number };
  maxRows: number;
  supports(step: Step, device: DeviceCaps): boolean;
  workgroups(step: Step, layout: StepLayout): [number, number, number];
}

export function denseKernel(spec: DenseKernelSpec, precision: Precision): KernelDef {
  return {
    name: spec.name,
    precision,
    file: spec.file,
    shader: `${WEIGHT_PRELUDE[precision]}\n${spec.body}`,
    entryPoint: 'main',
    bindings: BINDINGS,
    uniform: { struct: 'Shape', fields: ['rows', 'cols', 'inner', 'shortcut_inner', 'out_cols'] },
    overrides: spec.overrides,
    workgroupSize: spec.workgroupSize,
    padding: spec.padding,
    maxRows: spec.maxRows,
    weights: transposedWeights,
    supports: spec.supports,
    constants: (step) => ({ SHORTCUT: SHORTCUT[step.epilogue.residual], RELU: step.epilogue.relu ? 1 : 0 }),
    runData: (step, layout) => denseRunData(step, layout, spec.workgroups(step, layout)),
  };
}

function denseRunData(step: Step, { rows, strides }: StepLayout, workgroups: [number, number, number]): RunData {
  return {
    uniforms: {
      rows,
      cols: strides[step.output]!,
      inner: strides[step.input]!,
      shortcut_inner: step.epilogue.residual === 'projection' ? strides[step.shortcut!]! : 0,
      // Every dense kernel writes columns past the step's real width as exact zeros: computed,
      // they would be Σ a·0 + 0, NaN for a row holding an Inf, and that NaN would reach every
      // output of the next layer through its padded inner dimension, where PyTorch has none.
      out_cols: step.outFeatures,
    },
    workgroups,
    bindings: {
      shape: { kind: 'uniform' },
      a: { kind: 'value', value: step.input },
      // Plain linears have no shortcut operand; `a` is bound in its place (read-only twice is allowed).
      x: { kind: 'value', value: step.shortcut ?? step.input },
      w: { kind: 'weight' },
      bias: { kind: 'bias' },
      y: { kind: 'value', value: step.output },
    },
  };
}
