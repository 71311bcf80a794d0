import body from '../../shaders/gemv.wgsl?raw';
import { denseKernel, type DenseKernelSpec } from './dense.js';

/**
 * shaders/gemv.wgsl: split-K for small batches. A workgroup owns 8 output columns and 4 batch
 * rows; 64 invocations per 4 columns each sum a slice of the inner dimension, added up in
 * workgroup memory. Enough workgroups to fill a large GPU at batch 1, where gemm launches a
 * handful. Needs 128 invocations and 8 KiB of workgroup memory (WebGPU's defaults allow both).
 */
export const gemv: DenseKernelSpec = {
  name: 'gemv',
  file: 'shaders/gemv.wgsl',
  body,
  overrides: [],
  workgroupSize: [128, 1, 1],
  padding: { rows: 4, features: 8 },
  // Each group of 4 rows re-reads the weights, so output tiles win past small batches.
  maxRows: 16,
  supports: (_, device) => device.limits.maxComputeInvocationsPerWorkgroup >= 128 && device.limits.maxComputeWorkgroupStorageSize >= 8192,
  workgroups: (step, { rows, strides }) => [strides[step.output]! / 8, rows / 4, 1],
};

export const gemvKernels = { f32: denseKernel(gemv, 'f32'), f16: denseKernel(gemv, 'f16') };
