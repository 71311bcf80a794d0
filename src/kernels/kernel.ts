/**
 * What the runtime needs to know to compile and dispatch a kernel, declared next to its WGSL.
 * test/kernels.test.ts reflects every shader with wgsl_reflect and fails when a declaration
 * and its shader disagree (bindings, uniform fields, override names).
 */
export type BindingType = 'uniform' | 'read-only-storage' | 'storage';

export interface KernelBinding {
  /** The WGSL variable name. */
  name: string;
  binding: number;
  type: BindingType;
}

export interface KernelDef {
  name: string;
  /** Source file under shaders/, for error messages and the reflection test. */
  file: string;
  shader: string;
  entryPoint: string;
  /** Group 0, in binding order. */
  bindings: readonly KernelBinding[];
  /** The uniform struct: u32 fields in declaration order (4 bytes apart). */
  uniform: { struct: string; fields: readonly string[] };
  /** Override constants the runtime may set. */
  overrides: readonly string[];
}

/** Uniform blocks are bound at offsets that are multiples of this (WebGPU's default minUniformBufferOffsetAlignment). */
export const UNIFORM_STRIDE = 256;
