import type { FoldedStep } from '../graph/fold.js';
import type { AnyStep, AnyStepKind } from '../graph/steps.js';

/**
 * A WebGPU kernel, self-described next to its WGSL: how to compile it, what it binds by name,
 * and, for a step at a batch size, everything the planner needs to dispatch it (uniform
 * values, workgroup counts, what each binding reads). The planner is generic: it never learns
 * a kernel's internals. test/kernels.test.ts reflects every shader with wgsl_reflect and fails
 * when a declaration and its shader disagree (bindings, uniform fields, overrides, workgroup size).
 */
export type BindingType = 'uniform' | 'read-only-storage' | 'storage';

export interface KernelBinding {
  /** The WGSL variable name. */
  name: string;
  binding: number;
  type: BindingType;
}

/** What a binding is bound to, for one dispatch. */
export type BindingSource =
  | { kind: 'uniform' }
  /** A numbered activation value of the lowered model. */
  | { kind: 'value'; value: number }
  /** The step's packed weight, or its epilogue parameters ([bias | scale | shift]), in the model's weight buffer. */
  | { kind: 'weight' }
  | { kind: 'params' };

/**
 * The sizes a dispatch sees, padded: as the activation buffers and weights are laid out. A value
 * of row shape [F] is `batch` rows of F features; an image [C, H, W] is stored channels-last
 * (NHWC): batch·H·W pixel rows of C channels, so its stride is per pixel.
 */
export interface StepLayout {
  /** The batch, padded: rows of a value of one pixel ([F], or [C, 1, 1]). */
  rows: number;
  /** Row stride, in floats, of each value (index = value number): features, or channels of a pixel. */
  strides: readonly number[];
  /** The real batch. */
  batch: number;
  /** Pixels per batch row of each value: H·W for an image, 1 for a row of features. */
  pixels: readonly number[];
  /** Each value's row shape ([F] or [C, H, W]). */
  shapes: readonly (readonly number[])[];
}

export interface RunData {
  /** One number per field of the kernel's uniform struct. */
  uniforms: Readonly<Record<string, number>>;
  workgroups: [number, number, number];
  /** One source per declared binding, by binding name. */
  bindings: Readonly<Record<string, BindingSource>>;
}

/** The device facts a kernel's support can depend on. */
export interface DeviceCaps {
  /** The adapter is a CPU pretending to be a GPU (SwiftShader, llvmpipe, a fallback adapter). */
  software: boolean;
  limits: Pick<GPUSupportedLimits, 'maxComputeWorkgroupsPerDimension' | 'maxComputeInvocationsPerWorkgroup' | 'maxComputeWorkgroupStorageSize'>;
  features: ReadonlySet<string>;
}

/** How a kernel wants a step's weights packed into the weight buffer. */
export interface WeightLayout {
  /** Names a packing: kernels with the same name read the same packed weights. */
  name: string;
  /** Whether the packed weights are stored at the model's precision (f16 halves them); else always f32. */
  followsPrecision: boolean;
  /** Floats of the packed weight for a step (given the activation strides); 0 when the kernel reads none. */
  weightLength(step: AnyStep, strides: readonly number[]): number;
  /** Writes the step's folded weights (fold.ts) into `out` (length weightLength). */
  pack(step: AnyStep, strides: readonly number[], folded: FoldedStep, out: Float32Array): void;
}

/** Floats of a step's epilogue parameters: bias, scale and shift, each padded to the output's stride. */
export function paramsLength(step: AnyStep, strides: readonly number[]): number {
  return 3 * strides[step.output]!;
}

/** Writes [bias | scale | shift] (scale 1 and shift 0 without an affine), zero in padded columns. */
export function packParams(step: AnyStep, strides: readonly number[], folded: FoldedStep, out: Float32Array): void {
  const cols = strides[step.output]!;
  out.fill(0);
  for (let o = 0; o < step.channels; o++) {
    out[o] = folded.bias[o]!;
    out[cols + o] = folded.scale ? folded.scale[o]! : 1;
    out[2 * cols + o] = folded.shift ? folded.shift[o]! : 0;
  }
}

export interface KernelDef {
  name: string;
  /** The kind of step it runs (steps.ts). */
  stepKind: AnyStepKind;
  /** How the weights it reads are stored: f32, or f16 pairs packed in u32 (kernels whose layout does not follow the precision say 'f32'). */
  precision: 'f32' | 'f16';
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
  /** The workgroup size, as the shader declares it (checked by reflection). */
  workgroupSize: readonly [number, number, number];
  /** Activation rows and features this kernel reads and writes are padded to multiples of these. */
  padding: { rows: number; features: number };
  /**
   * The most (padded) rows it is chosen for automatically: the range its correctness tests
   * cover and its design serves. The `kernel` option may still force it beyond.
   */
  maxRows: number;
  weights: WeightLayout;
  /** Whether the kernel can run this step on this device. */
  supports(step: AnyStep, device: DeviceCaps): boolean;
  /** The override constants for a step: with the kernel's name, the pipeline cache key. */
  constants(step: AnyStep): Readonly<Record<string, number>>;
  runData(step: AnyStep, layout: StepLayout): RunData;
}

/** Uniform blocks are bound at offsets that are multiples of this (WebGPU's default minUniformBufferOffsetAlignment). */
export const UNIFORM_STRIDE = 256;

/** The pipeline cache key: what changes the compiled code (shapes travel in uniforms). */
export function pipelineKey(kernel: KernelDef, step: AnyStep): string {
  const constants = kernel.constants(step);
  return `${kernel.name}/${kernel.precision}(${Object.keys(constants).sort().map((k) => `${k}=${constants[k]}`).join(',')})`;
}
