import shader from '../../shaders/gemm.wgsl?raw';
import type { KernelDef } from './kernel.js';

/**
 * shaders/gemm.wgsl: a dense layer with bias, optional ReLU, and optional residual shortcut
 * (identity, or a projection GEMM in the same dispatch). See the shader's header for layouts.
 */
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
  uniform: { struct: 'Shape', fields: ['rows', 'cols', 'inner', 'shortcut_inner'] },
  overrides: ['SHORTCUT', 'RELU', 'WORKGROUP_X', 'WORKGROUP_Y'],
};

/** Output tile of one invocation; buffer rows and feature widths are padded to these. */
export const GEMM_TILE_ROWS = 4;
export const GEMM_TILE_COLS = 8;
/** Invocations per workgroup along columns (x) and rows (y). */
export const GEMM_WORKGROUP = [8, 8] as const;

/** Padded sizes, in floats, as the shader sees them. */
export interface GemmShape {
  rows: number;
  cols: number;
  inner: number;
  shortcutInner: number;
}

/** The uniform block, in the field order of the `Shape` struct. */
export function gemmUniforms(s: GemmShape): Uint32Array {
  return new Uint32Array([s.rows, s.cols, s.inner, s.shortcutInner]);
}

export function gemmWorkgroups(s: GemmShape): [number, number] {
  return [
    Math.ceil(s.cols / GEMM_TILE_COLS / GEMM_WORKGROUP[0]),
    Math.ceil(s.rows / GEMM_TILE_ROWS / GEMM_WORKGROUP[1]),
  ];
}
