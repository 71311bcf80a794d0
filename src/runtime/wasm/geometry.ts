import type { AnyFusedModel, AnyStep } from '../../graph/steps.js';

/**
 * The image geometry image.wat reads for a conv or pool step (the field list at the top of
 * image.wat): the one TypeScript copy of it. An elementwise step on an image is a 1×1 max window
 * (each value as it is, NaN included), so that it runs per pixel as the image is stored.
 */
export const GEOMETRY_BYTES = 112;

/** Output pixels per cache block of a conv (image.wat's $conv_rows), a multiple of 4: the default, and the most the scratch holds. */
export const CONV_BLOCK_PIXELS = 32;
export const MAX_CONV_BLOCK_PIXELS = 128;
/**
 * Bytes of a Winograd conv's transformed input tiles per block (16 matrices of tiles × channels,
 * winograd.wat's $wino_rows): every panel of output channels passes over them, so they should stay
 * in the core's L2 (2 MiB a core on the development machine; 512 KiB leaves room for the weights).
 */
const WINOGRAD_BLOCK_BYTES = 512 << 10;
const MAX_WINOGRAD_BLOCK_TILES = 32;

/** Floats of a pixel of an image value [C, H, W]: its channels, padded to the panel. */
export const pixelFloats = (shape: readonly number[]): number => Math.ceil(shape[0]! / 8) * 8;

/** Whether a step runs as an image step on this backend: conv and pool, and elementwise on more than one pixel. */
export function isImageStep(model: AnyFusedModel, step: AnyStep): boolean {
  if (step.kind === 'conv' || step.kind === 'pool') return true;
  const shape = model.values[step.input]!.shape;
  return step.kind === 'elementwise' && shape.length === 3 && shape[1]! * shape[2]! > 1;
}

/**
 * The inner dimension of a conv step as image.wat's $conv_tile4 walks it: `taps` segments of k1
 * floats (a tap's padded input channels), then one of k2 (the projection's), else 0. A conv
 * reading fewer than 8 channels (a stem on RGB) is `compact`: each output pixel's window is
 * copied into one row of kh·kw·C floats (image.wat's $im2col), one segment of k1 = kh·kw·C, so
 * that the padding channels (5 of 8 for RGB) cost nothing and the k loop runs long.
 */
export interface ConvSegments {
  taps: number;
  k1: number;
  k2: number;
  /** The input's real channels. */
  channels: number;
  compact: boolean;
  /**
   * Winograd F(2×2, 3×3) (winograd.wat): the 16 "taps" are the transformed weights U = G·g·Gᵀ,
   * one k1 segment each, against the transformed input tiles; then the projection's k2, if any.
   */
  winograd: boolean;
}

/**
 * Whether a conv can run as Winograd F(2×2, 3×3): a 3×3 window at stride 1 and dilation 1 (any
 * padding), on 8 channels or more (a compact stem gains nothing); a downsample projection stacked
 * in it runs as its own GEMM per tile. Per 2×2 output pixels it multiplies 16 times per channel
 * pair instead of 36: 2.25× fewer multiply-adds, for a few adds in the transforms.
 */
export function winogradFits(model: AnyFusedModel, step: AnyStep): boolean {
  if (step.kind !== 'conv') return false;
  const { kernel, stride, dilation } = step.parts[0]!.conv!;
  return kernel.every((k) => k === 3) && stride.every((x) => x === 1) && dilation.every((x) => x === 1) && model.values[step.input]!.shape[0]! >= 8;
}

/** Tiles of 2×2 output pixels per block of a Winograd conv reading k1 floats a pixel: a multiple of 4. */
export const winogradBlockTiles = (k1: number) => Math.max(4, Math.min(MAX_WINOGRAD_BLOCK_TILES, Math.floor(WINOGRAD_BLOCK_BYTES / (64 * k1) / 4) * 4));

/** Bytes of a Winograd conv's scratch per thread (winograd.wat): a table of 16 addresses, its block's transformed tiles, its block's 16 products per tile and 8 channels, a tile's projection sums. */
export const winogradScratchBytes = (k1: number) => 64 + winogradBlockTiles(k1) * 16 * (k1 * 4 + 32) + 128;

export function convSegments(model: AnyFusedModel, step: AnyStep, winograd: boolean): ConvSegments {
  const [kh, kw] = step.parts[0]!.conv!.kernel;
  const input = model.values[step.input]!.shape;
  const channels = input[0]!;
  const k2 = step.epilogue.residual === 'projection' ? pixelFloats(model.values[step.shortcut!]!.shape) : 0;
  if (winograd) return { taps: 16, k1: pixelFloats(input), k2, channels, compact: false, winograd };
  if (channels < 8 && k2 === 0) return { taps: 1, k1: kh * kw * channels, k2, channels, compact: true, winograd };
  return { taps: kh * kw, k1: pixelFloats(input), k2, channels, compact: false, winograd };
}

/** Writes step's geometry at byte `at`; `zero` is a zeroed row as wide as any input pixel. */
export function writeGeometry(words: Int32Array, at: number, model: AnyFusedModel, step: AnyStep, winograd: boolean, zero: number, block = CONV_BLOCK_PIXELS): void {
  if (block % 4 !== 0 || block < 4 || block > MAX_CONV_BLOCK_PIXELS) throw new Error(`resgpu bug: a conv block of ${block} pixels`);
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
  const segments = step.kind === 'conv' ? convSegments(model, step, winograd) : null;
  const compact = segments?.compact ? [segments.k1, segments.channels] : [0, 0];
  const tiles = segments?.winograd ? winogradBlockTiles(segments.k1) : 0;
  const projection = step.epilogue.residual === 'projection' ? step.parts[1]!.conv!.stride : [1, 1];
  words.set(
    [
      inH, inW, outH, outW, window.kernel[0]!, window.kernel[1]!, window.stride[0]!, window.stride[1]!, window.pad[0]!, window.pad[1]!,
      window.dilation[0]!, window.dilation[1]!, pixelFloats(model.values[step.input]!.shape) * 4, pixelFloats(out) * 4,
      x ? pixelFloats(x) * 4 : 0, x && x.length === 3 ? x[2]! : 1, projection[0]!, projection[1]!, window.mean, window.includePad,
      window.pad[2]!, window.pad[3]!, zero, block, ...compact, tiles,
    ],
    at / 4,
  );
}
