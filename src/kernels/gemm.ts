import shader from '../../shaders/gemm.wgsl?raw';
import type { KernelDef } from './kernel.js';
import { transposedWeights } from './transposed-weights.js';

/**
 * shaders/gemm.wgsl: a dense layer with bias, optional ReLU, and optional residual shortcut
 * (identity, or a projection GEMM in the same dispatch). Each invocation computes a
 * TILE_ROWS × TILE_COLS output tile in named registers, with no workgroup memory and no
 * barriers: the best known kernel on SwiftShader. See the shader's header for layouts.
 */
const TILE_ROWS = 4;
const TILE_COLS = 8;
const WORKGROUP = [8, 8, 1] as const;

const SHORTCUT = { none: 0, identity: 1, projection: 2 } as const;

export const gemmKernel: KernelDef = {
  name: 'gemm',
  file: 'shaders/gemm.wgsl',
  shader,
  entryPoint: 'main',
  bindings: [
    { name: 'shape', binding: 0, type: 'uniform' },
    { name: 'a', binding: 1, type: 'read-only-storage' },
    { name: 'x', binding: 2, type: 'read-only-storage' },
    { name: 'w', binding: 3, type: 'read-only-storage' },
    { name: 'bias', binding: 4, type: 'read-only-storage' },
    { name: 'y', binding: 5, type: 'storage' },
  ],
  uniform: { struct: 'Shape', fields: ['rows', 'cols', 'inner', 'shortcut_inner', 'out_cols'] },
  overrides: ['SHORTCUT', 'RELU', 'WORKGROUP_X', 'WORKGROUP_Y'],
  workgroupSize: WORKGROUP,
  // The shader walks whole tiles, unguarded within one: rows by 4, columns by 8.
  padding: { rows: TILE_ROWS, features: TILE_COLS },
  weights: transposedWeights,
  supports: () => true,
  constants: (step) => ({ SHORTCUT: SHORTCUT[step.epilogue.residual], RELU: step.epilogue.relu ? 1 : 0 }),
  runData(step, { rows, strides }) {
    const cols = strides[step.output]!;
    return {
      uniforms: {
        rows,
        cols,
        inner: strides[step.input]!,
        shortcut_inner: step.epilogue.residual === 'projection' ? strides[step.shortcut!]! : 0,
        // Columns past the step's real width are written as zeros (see the shader's header).
        out_cols: step.outFeatures,
      },
      workgroups: [Math.ceil(cols / TILE_COLS / WORKGROUP[0]), Math.ceil(rows / TILE_ROWS / WORKGROUP[1]), 1],
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
  },
};
