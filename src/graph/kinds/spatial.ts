import { GraphError } from '../../errors.js';
import type { ShapeQuery } from './kind.js';

/**
 * What the image kinds (conv2d, maxpool2d, avgpool2d, global_avgpool) share: a value's row is
 * [C, H, W] in PyTorch's NCHW order (row r, channel c, pixel (h, w) at r·C·H·W + c·H·W + h·W + w),
 * their attributes as pairs [along H, along W], and the caps that keep a hostile manifest from
 * asking for unbounded memory or time before anything is allocated.
 */

/** Channels, and height or width, of an image value: far beyond any real network (ResNets: 2048 channels, 224×224). */
export const MAX_IMAGE_DIM = 1 << 16;
/** Elements of one row of an image node's output: a 2^28-float row is 1 GiB in float32. */
export const MAX_IMAGE_ROW = 1 << 28;
/** Strides, paddings, dilations and kernel sizes: an attribute past this is no real network's. */
export const MAX_WINDOW_ATTR = 1 << 16;

/** An image's row shape, checked against the caps. */
export function imageShape(q: ShapeQuery): [number, number, number] {
  const s = q.inputs[0]!;
  if (s.length !== 3) throw new GraphError(`${q.where} reads a value of shape [${s.join(', ')}]; it needs an image, [C, H, W] per row.`);
  const [c, h, w] = s as [number, number, number];
  if (c > MAX_IMAGE_DIM || h > MAX_IMAGE_DIM || w > MAX_IMAGE_DIM) {
    throw new GraphError(`${q.where} reads an image of [${s.join(', ')}] per row; resgpu runs at most ${MAX_IMAGE_DIM} channels and ${MAX_IMAGE_DIM} pixels a side.`);
  }
  return [c, h, w];
}

/** Checks an output row against the caps, naming the node. */
export function checkOutput(q: ShapeQuery, shape: [number, number, number]): [number, number, number] {
  const size = shape[0] * shape[1] * shape[2];
  if (shape.some((d) => d > MAX_IMAGE_DIM) || size > MAX_IMAGE_ROW) {
    throw new GraphError(
      `${q.where} would output [${shape.join(', ')}] per row (${size} values); resgpu runs at most ${MAX_IMAGE_DIM} channels or pixels a side and ${MAX_IMAGE_ROW} values per row.`,
    );
  }
  return shape;
}

/**
 * An attribute of two integers [along H, along W] (a single integer means both, as in PyTorch's
 * `stride=2`), each in [min, MAX_WINDOW_ATTR].
 */
export function pairAttr(raw: Readonly<Record<string, unknown>>, key: string, fallback: [number, number] | null, min: number): [number, number] {
  const v = raw[key];
  if (v === undefined) {
    if (fallback === null) throw new Error(`attrs.${key} is required (two integers [along H, along W])`);
    return fallback;
  }
  const ok = (d: unknown) => Number.isSafeInteger(d) && (d as number) >= min && (d as number) <= MAX_WINDOW_ATTR;
  if (ok(v)) return [v as number, v as number];
  if (Array.isArray(v) && v.length === 2 && v.every(ok)) return [v[0], v[1]];
  throw new Error(`attrs.${key} must be two integers [along H, along W] from ${min} to ${MAX_WINDOW_ATTR}, got ${JSON.stringify(v)}`);
}

/** One spatial dimension of a window op: its input size, padding before and after, kernel, stride, dilation. */
export interface Axis {
  size: number;
  before: number;
  after: number;
  kernel: number;
  stride: number;
  dilation: number;
}

/**
 * Output size along one axis, by PyTorch's formula (ATen's pooling_output_shape):
 * ⌊(size + before + after − dilation·(kernel − 1) − 1 + (ceil ? stride − 1 : 0)) / stride⌋ + 1,
 * and with ceil_mode the last window is dropped when it would start past the input and its
 * leading padding. Throws an Error saying why when the (dilated) kernel is larger than the padded input.
 */
export function outputSize(a: Axis, ceil: boolean, along: 'H' | 'W'): number {
  const span = a.dilation * (a.kernel - 1) + 1;
  const padded = a.size + a.before + a.after;
  if (span > padded) {
    throw new Error(`its ${a.dilation > 1 ? 'dilated ' : ''}kernel spans ${span} pixels along ${along}, more than the ${padded} of its ${a.before + a.after > 0 ? 'padded ' : ''}input`);
  }
  let out = Math.floor((padded - span + (ceil ? a.stride - 1 : 0)) / a.stride) + 1;
  if (ceil && (out - 1) * a.stride >= a.size + a.before) out--;
  return out;
}

/** The window attributes of maxpool2d and avgpool2d, checked: kernel (required), stride (default: the kernel), padding, ceil_mode. */
export function poolAttrs(raw: Readonly<Record<string, unknown>>): { kernel: [number, number]; stride: [number, number]; padding: [number, number]; ceil_mode: boolean } {
  const kernel = pairAttr(raw, 'kernel', null, 1);
  const ceil = raw.ceil_mode ?? false;
  if (typeof ceil !== 'boolean') throw new Error(`attrs.ceil_mode must be true or false, got ${JSON.stringify(ceil)}`);
  return { kernel, stride: pairAttr(raw, 'stride', kernel, 1), padding: pairAttr(raw, 'padding', [0, 0], 0), ceil_mode: ceil };
}

/** The windows of a pooling node along H and W for an input of h × w pixels (padding on both sides, as PyTorch's). */
export function poolAxes(attrs: Readonly<Record<string, unknown>>, h: number, w: number): [Axis, Axis] {
  const [k, s, p] = [attrs.kernel, attrs.stride, attrs.padding] as [number, number][];
  const d = (attrs.dilation as [number, number] | undefined) ?? [1, 1];
  return [
    { size: h, before: p![0], after: p![0], kernel: k![0], stride: s![0], dilation: d[0] },
    { size: w, before: p![1], after: p![1], kernel: k![1], stride: s![1], dilation: d[1] },
  ];
}

/** A pooling node's output row [C, oh, ow], refusing what PyTorch refuses: padding over half the kernel, a kernel larger than the padded input. */
export function poolShape(q: ShapeQuery): [number, number, number] {
  const [c, h, w] = imageShape(q);
  const axes = poolAxes(q.attrs, h, w);
  const sizes = axes.map((a, i) => {
    const along = i === 0 ? 'H' : 'W';
    if (a.before > Math.floor(a.kernel / 2)) {
      throw new GraphError(`${q.where} pads ${a.before} pixels along ${along}, more than half its kernel of ${a.kernel}; PyTorch refuses it too (every window must hold a pixel of the input).`);
    }
    try {
      return outputSize(a, q.attrs.ceil_mode === true, along);
    } catch (e) {
      throw new GraphError(`${q.where}: ${(e as Error).message}; PyTorch refuses it too.`);
    }
  });
  return checkOutput(q, [c, sizes[0]!, sizes[1]!]);
}
