import { OptionError } from '../../errors.js';
import type { AnyStep, AnyStepKind } from '../../graph/steps.js';
import type { Precision } from '../../kernels/dense.js';
import type { DeviceCaps, KernelDef, WeightLayout } from '../../kernels/kernel.js';
import { KERNELS, type KernelVariant } from '../../kernels/registry.js';

/**
 * The one place a kernel is chosen for a step at a batch size on a device. Only kernels of the
 * step's kind reading its weight layout (and, for GEMMs, the model's precision) are
 * candidates, since weights are packed once at load, before any batch size is known. LayerNorm,
 * elementwise, conv (at the model's precision) and pool steps have one kernel each (the `kernel`
 * option forces the dense steps' only), and so has a gemm step with a mean prologue (global
 * average pooling + Linear: gemm_mean). For the other GEMM steps, in order:
 *  1. the `kernel` option forces a variant for every step;
 *  2. a winner measured on this adapter for this step's shape and batch (tune.ts);
 *  3. the rule below, which measurements on a software adapter and the kernels' designs give:
 *     on a software adapter (a CPU: SwiftShader, llvmpipe) `gemm` always, being the fastest
 *     there (barriers cost a coroutine switch); on a GPU `gemv` for small batches, whose
 *     split-K fills the GPU where output tiles cannot, and `gemm_tiled` for large ones.
 */
export function weightLayout(kind: AnyStepKind): WeightLayout {
  return KERNELS.find((k) => k.stepKind === kind)!.weights;
}

/** Up to this many rows, a hardware adapter starts with gemv (its maxRows); above, with gemm_tiled. */
const GEMV_ROWS = 16;

export interface Selection {
  precision: Precision;
  /** The `kernel` option, or null to choose. */
  forced: KernelVariant | null;
  /** Winners measured on this adapter, by tuningKey. */
  measured: ReadonlyMap<string, KernelVariant>;
}

/** The kernels that may run a step: this layout and precision, supported on the device, and (when `rows` is given) chosen at that many rows. */
export function candidates(step: AnyStep, device: DeviceCaps, precision: Precision, rows?: number): KernelDef[] {
  const layout = weightLayout(step.kind);
  return KERNELS.filter(
    (k) =>
      k.stepKind === step.kind &&
      (!k.weights.followsPrecision || k.precision === precision) &&
      k.weights.name === layout.name &&
      k.supports(step, device) &&
      (rows === undefined || rows <= k.maxRows),
  );
}

/** What a measurement is remembered by: the step's shape and the padded batch, at a precision. */
export function tuningKey(step: AnyStep, rows: number, precision: Precision): string {
  return `${step.op}:${step.inFeatures}+${step.shortcutFeatures}->${step.outFeatures}@${rows}:${precision}`;
}

export function selectKernel(step: AnyStep, rows: number, device: DeviceCaps, selection: Selection): KernelDef {
  const named = (name: string, from = candidates(step, device, selection.precision, rows)) => from.find((k) => k.name === name);
  // A gemm step with a mean prologue has one kernel (gemm_mean), whatever the `kernel` option
  // forces for the plain GEMMs; describe() names the variant that ran.
  if (step.kind !== 'gemm' || step.prologue) {
    const only = candidates(step, device, selection.precision)[0];
    if (!only) throw new Error(`resgpu bug: no kernel runs ${step.kind} step ${step.label}`);
    return only;
  }
  if (selection.forced) {
    const options = candidates(step, device, selection.precision);
    const forced = named(selection.forced, options);
    if (!forced) throw new OptionError(`kernel '${selection.forced}' cannot run ${step.label} on this device (${options.map((k) => k.name).join(', ')} can).`);
    return forced;
  }
  const measured = selection.measured.get(tuningKey(step, rows, selection.precision));
  const rule = device.software ? 'gemm' : rows <= GEMV_ROWS ? 'gemv' : 'gemm_tiled';
  const kernel = (measured && named(measured)) ?? named(rule) ?? named('gemm');
  if (!kernel) throw new Error(`resgpu bug: no kernel supports step ${step.label}`);
  return kernel;
}

/** Activation widths are padded to the widest feature padding any kernel needs, once per model. */
export const FEATURE_ALIGN = Math.max(...KERNELS.map((k) => k.padding.features));
/** Activation rows are padded to the largest row padding any kernel needs. */
export const ROW_ALIGN = Math.max(...KERNELS.map((k) => k.padding.rows));
