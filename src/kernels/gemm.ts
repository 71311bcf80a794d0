import body from '../../shaders/gemm.wgsl?raw';
import { denseKernel, type DenseKernelSpec } from './dense.js';

/**
 * shaders/gemm.wgsl: each invocation computes a 4 × 8 output tile in named registers, with no
 * workgroup memory and no barriers. The best known kernel on SwiftShader (where barriers cost a
 * coroutine switch), and the fallback everywhere: it runs every step at every batch.
 */
const TILE_ROWS = 4;
const TILE_COLS = 8;
const WORKGROUP = [8, 8, 1] as const;

export const gemm: DenseKernelSpec = {
  name: 'gemm',
  file: 'shaders/gemm.wgsl',
  body,
  overrides: ['WORKGROUP_X', 'WORKGROUP_Y'],
  workgroupSize: WORKGROUP,
  // The shader walks whole tiles, unguarded within one: rows by 4, columns by 8.
  padding: { rows: TILE_ROWS, features: TILE_COLS },
  maxRows: Infinity,
  supports: () => true,
  workgroups: (step, { rows, strides }) => [
    Math.ceil(strides[step.output]! / TILE_COLS / WORKGROUP[0]),
    Math.ceil(rows / TILE_ROWS / WORKGROUP[1]),
    1,
  ],
};

export const gemmKernels = { f32: denseKernel(gemm, 'f32'), f16: denseKernel(gemm, 'f16') };
