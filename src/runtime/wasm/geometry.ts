import type { AnyFusedModel, AnyStep } from '../../graph/steps.js';

/**
 * The image geometry image.wat reads for a conv or pool step (the field list at the top of
 * image.wat): the one TypeScript copy of it. An elementwise step on an image is a 1×1 max window
 * (each value as it is, NaN included), so that it runs per pixel as the image is stored.
 */
export const GEOMETRY_BYTES = 96;

/** Output pixels per cache block of a conv (image.wat's $conv_rows): a multiple of 4. */
export const CONV_BLOCK_PIXELS = 32;

/** Floats of a pixel of an image value [C, H, W]: its channels, padded to the panel. */
export const pixelFloats = (shape: readonly number[]): number => Math.ceil(shape[0]! / 8) * 8;

/** Whether a step runs as an image step on this backend: conv and pool, and elementwise on more than one pixel. */
export function isImageStep(model: AnyFusedModel, step: AnyStep): boolean {
  if (step.kind === 'conv' || step.kind === 'pool') return true;
  const shape = model.values[step.input]!.shape;
  return step.kind === 'elementwise' && shape.length === 3 && shape[1]! * shape[2]! > 1;
}

/** Input channels (padded) of each part of a conv step: a tap's segment, and the projection's. */
export function convSegments(model: AnyFusedModel, step: AnyStep): { taps: number; k1: number; k2: number } {
  const [kh, kw] = step.parts[0]!.conv!.kernel;
  const k1 = pixelFloats(model.values[step.input]!.shape);
  const k2 = step.epilogue.residual === 'projection' ? pixelFloats(model.values[step.shortcut!]!.shape) : 0;
  return { taps: kh * kw, k1, k2 };
}

/** Writes step's geometry at byte `at`; `zero` is a zeroed row as wide as any input pixel. */
export function writeGeometry(words: Int32Array, at: number, model: AnyFusedModel, step: AnyStep, zero: number): void {
  const [, inH, inW] = model.values[step.input]!.shape as [number, number, number];
  const out = model.values[step.output]!.shape;
  const [outH, outW] = out.length === 3 ? [out[1]!, out[2]!] : [1, 1];
  const x = step.shortcut === null ? null : model.values[step.shortcut]!.shape;
  let window = { kernel: [1, 1], stride: [1, 1], pad: [0, 0, 0, 0], dilation: [1, 1], mean: 0, includePad: 0 };
  if (step.kind === 'conv') {
    const g = step.parts[0]!.conv!;
    window = { kernel: g.kernel, stride: g.stride, pad: g.padding, dilation: g.dilation, mean: 0, includePad: 0 };
  } else if (step.pool?.op === 'global_avgpool') {
    window = { ...window, kernel: [inH, inW], mean: 1, includePad: 1 };
  } else if (step.pool) {
    const p = step.pool;
    window = { kernel: p.kernel, stride: p.stride, pad: [p.padding[0], p.padding[1], p.padding[0], p.padding[1]], dilation: p.dilation, mean: p.op === 'avgpool2d' ? 1 : 0, includePad: p.countIncludePad ? 1 : 0 };
  }
  const projection = step.epilogue.residual === 'projection' ? step.parts[1]!.conv!.stride : [1, 1];
  words.set(
    [
      inH, inW, outH, outW, window.kernel[0]!, window.kernel[1]!, window.stride[0]!, window.stride[1]!, window.pad[0]!, window.pad[1]!,
      window.dilation[0]!, window.dilation[1]!, pixelFloats(model.values[step.input]!.shape) * 4, pixelFloats(out) * 4,
      x ? pixelFloats(x) * 4 : 0, x && x.length === 3 ? x[2]! : 1, projection[0]!, projection[1]!, window.mean, window.includePad,
      window.pad[2]!, window.pad[3]!, zero, CONV_BLOCK_PIXELS,
    ],
    at / 4,
  );
}
