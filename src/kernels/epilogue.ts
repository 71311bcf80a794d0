import epilogueShader from '../../shaders/epilogue.wgsl?raw';
import type { ActivationFn, AnyStep } from '../graph/steps.js';
import type { BindingSource, KernelBinding, StepLayout } from './kernel.js';

/**
 * The epilogue every kernel shares (steps.ts; the WGSL in shaders/epilogue.wgsl, put in front of
 * each kernel body): the uniform struct and bindings it reads, its override constants for a
 * step, and its share of a dispatch's run data. A kernel adds its own `a` and `y` bindings
 * (and `w` where it reads weights) and computes what goes into epilogue().
 */
export const EPILOGUE_WGSL = epilogueShader;

/** The Shape struct of the prelude: u32 fields in declaration order. */
export const SHAPE_UNIFORM = { struct: 'Shape', fields: ['rows', 'cols', 'inner', 'shortcut_inner', 'out_cols', 'in_h', 'in_w', 'out_h', 'out_w', 'x_h', 'x_w'] } as const;

export const EPILOGUE_BINDINGS: readonly KernelBinding[] = [
  { name: 'shape', binding: 0, type: 'uniform' },
  { name: 'x', binding: 2, type: 'read-only-storage' },
  { name: 'params', binding: 4, type: 'read-only-storage' },
];

/** A kernel's bindings: the epilogue's, its input `a` and output `y`, and its weights (binding 3, named `weights`) when it reads any. */
export function kernelBindings(weights?: string): readonly KernelBinding[] {
  const own: KernelBinding[] = [
    { name: 'a', binding: 1, type: 'read-only-storage' },
    ...(weights ? [{ name: weights, binding: 3, type: 'read-only-storage' } as const] : []),
    { name: 'y', binding: 5, type: 'storage' },
  ];
  return [...EPILOGUE_BINDINGS, ...own].sort((p, q) => p.binding - q.binding);
}

export const EPILOGUE_OVERRIDES = ['RESIDUAL', 'AFFINE', 'ACT', 'SLOPE'] as const;

/** The ACT numbers of shaders/epilogue.wgsl. */
const ACT: Record<ActivationFn, number> = { none: 0, relu: 1, leaky_relu: 2, gelu: 3, gelu_tanh: 4, silu: 5, sigmoid: 6, tanh: 7 };
const RESIDUAL = { none: 0, identity: 1, projection: 2 } as const;

/** The epilogue's override constants for a step (part of the pipeline key). */
export function epilogueConstants(step: AnyStep): Record<string, number> {
  const { residual, affine, activation } = step.epilogue;
  return { RESIDUAL: RESIDUAL[residual], AFFINE: affine ? 1 : 0, ACT: ACT[activation.fn], SLOPE: activation.slope };
}

/** The epilogue's uniforms and bindings for a step; `inner` is the kernel's own. */
export function epilogueRunData(step: AnyStep, { strides }: StepLayout, rows: number, inner: number) {
  const uniforms = {
    rows,
    cols: strides[step.output]!,
    inner,
    shortcut_inner: step.epilogue.residual === 'projection' ? strides[step.shortcut!]! : 0,
    // Every kernel writes columns past the step's real width as exact zeros (epilogue.wgsl).
    out_cols: step.channels,
    // Image sizes: convolution and pooling kernels set them (kernels/conv.ts, pool.ts); 1 elsewhere.
    in_h: 1,
    in_w: 1,
    out_h: 1,
    out_w: 1,
    x_h: 1,
    x_w: 1,
  };
  const bindings: Record<string, BindingSource> = {
    shape: { kind: 'uniform' },
    // Steps without a residual bind their input in its place (read-only twice is allowed).
    x: { kind: 'value', value: step.shortcut ?? step.input },
    params: { kind: 'params' },
    a: { kind: 'value', value: step.input },
    y: { kind: 'value', value: step.output },
  };
  return { uniforms, bindings };
}
