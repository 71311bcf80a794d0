import body from '../../shaders/gemm_tiled.wgsl?raw';
import { denseKernel, type DenseKernelSpec } from './dense.js';

/**
 * shaders/gemm_tiled.wgsl: 64 × 64 output tiles per workgroup staged through workgroup memory,
 * a 4 × 4 register block per invocation, for large batches on real GPUs. Edges are guarded,
 * so it needs no padding beyond the activations' own. Needs 256 invocations and 8 KiB of
 * workgroup memory (WebGPU's defaults allow both).
 */
export const gemmTiled: DenseKernelSpec = {
  name: 'gemm_tiled',
  file: 'shaders/gemm_tiled.wgsl',
  body,
  overrides: [],
  workgroupSize: [16, 16, 1],
  padding: { rows: 4, features: 8 },
  maxRows: Infinity,
  supports: (_, device) => device.limits.maxComputeInvocationsPerWorkgroup >= 256 && device.limits.maxComputeWorkgroupStorageSize >= 8192,
  workgroups: (step, { rows, strides }) => [Math.ceil(strides[step.output]! / 64), Math.ceil(rows / 64), 1],
};

export const gemmTiledKernels = { f32: denseKernel(gemmTiled, 'f32'), f16: denseKernel(gemmTiled, 'f16') };
