import f16Weights from '../../shaders/weights_f16.wgsl?raw';
import f32Weights from '../../shaders/weights_f32.wgsl?raw';
import type { AnyStep } from '../graph/steps.js';
import { kernelBindings, EPILOGUE_OVERRIDES, EPILOGUE_WGSL, epilogueConstants, epilogueRunData, SHAPE_UNIFORM } from './epilogue.js';
import type { DeviceCaps, KernelBinding, KernelDef, StepLayout } from './kernel.js';
import { transposedWeights } from './transposed-weights.js';

/**
 * What every GEMM kernel (gemm, gemv, gemm_tiled) shares: one fused step y = epilogue(a · W),
 * the same bindings, the transposed weight layout, and the weight prelude that lets one kernel
 * body read f32 or f16 weights. The shader is the weight prelude, then the shared epilogue
 * (shaders/epilogue.wgsl), then the kernel's body. A GEMM kernel adds only its WGSL body, its
 * workgroup size and padding, what it supports, and its dispatch size.
 */
export type Precision = 'f32' | 'f16';

/** The weight preludes: weight4() over f32 or f16 storage (shared with the conv kernel). */
export const WEIGHT_PRELUDE: Record<Precision, string> = { f32: f32Weights, f16: f16Weights };

/** Bytes of one stored weight element. */
export const WEIGHT_BYTES: Record<Precision, number> = { f32: 4, f16: 2 };

const BINDINGS = kernelBindings('w');

export interface DenseKernelSpec {
  name: string;
  /** The kernel body under shaders/ (the weight prelude and the epilogue are put in front of it). */
  file: string;
  body: string;
  /** Override constants of its own, beside the epilogue's. */
  overrides: readonly string[];
  workgroupSize: readonly [number, number, number];
  padding: { rows: number; features: number };
  maxRows: number;
  supports(step: AnyStep, device: DeviceCaps): boolean;
  workgroups(step: AnyStep, layout: StepLayout): [number, number, number];
}

export function denseKernel(spec: DenseKernelSpec, precision: Precision): KernelDef {
  return {
    name: spec.name,
    stepKind: 'gemm',
    precision,
    file: spec.file,
    shader: `${WEIGHT_PRELUDE[precision]}\n${EPILOGUE_WGSL}\n${spec.body}`,
    entryPoint: 'main',
    bindings: BINDINGS,
    uniform: SHAPE_UNIFORM,
    overrides: [...EPILOGUE_OVERRIDES, ...spec.overrides],
    workgroupSize: spec.workgroupSize,
    padding: spec.padding,
    maxRows: spec.maxRows,
    weights: transposedWeights,
    // A step with a mean prologue reads an image, not a row of features: gemm_mean's alone.
    supports: (step, device) => step.prologue === undefined && spec.supports(step, device),
    constants: epilogueConstants,
    runData: (step, layout) => {
      const { uniforms, bindings } = epilogueRunData(step, layout, layout.rows, layout.strides[step.input]!);
      return { uniforms, bindings: { ...bindings, w: { kind: 'weight' } }, workgroups: spec.workgroups(step, layout) };
    },
  };
}
