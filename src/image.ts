import { InputError, OptionError } from './errors.js';

/**
 * Images → an image model's input rows (NCHW floats), in the browser and in Node.
 *
 *   const x = imageToInput(canvas, { model });             // [C, H, W] from model.inputShape
 *   const y = await model.run(x);
 *
 * The steps, in order (torchvision's ToTensor + Normalize, with the resize done here):
 *  1. pixels: an ImageData (or any `{ data, width, height }` of RGBA bytes: the Node path), else a
 *     canvas, OffscreenCanvas, ImageBitmap or <img>, read at its own size (drawn 1:1 on a scratch
 *     canvas where it is not a 2d canvas). Alpha is dropped as PIL's convert('RGB') drops it.
 *  2. channels: RGB for a 3-channel model; luminance 0.299 R + 0.587 G + 0.114 B (ITU-R 601,
 *     PIL's convert('L') without its rounding) for a 1-channel one. `invert` takes 255 − value.
 *  3. size: to [H, W] by `resize` ('area', default: each output pixel the mean of the source area
 *     it covers, fractions of pixels included, i.e. OpenCV's INTER_AREA; a 4× reduction is plain
 *     4×4 block averaging; or 'bilinear': PyTorch's F.interpolate(align_corners=False, no
 *     antialias)). `fit`: 'stretch' (default: the whole image, aspect not kept) or 'center-crop'
 *     (the central region of the target's aspect ratio, exact to fractions of a pixel: torchvision's
 *     Resize(shorter side) + CenterCrop, without its rounding of the intermediate size).
 *  4. values: byte / 255, then (v − mean[c]) / std[c]: `normalize` 'imagenet' (default; 3 channels
 *     only), 'none', or `{ mean, std }` (one entry, or one per channel).
 * Done in float64, rounded to float32 once. Several images make a batch, rows in order.
 */
export const IMAGENET_MEAN: readonly number[] = /* @__PURE__ */ Object.freeze([0.485, 0.456, 0.406]);
/** See IMAGENET_MEAN: torchvision's ImageNet preprocessing. */
export const IMAGENET_STD: readonly number[] = /* @__PURE__ */ Object.freeze([0.229, 0.224, 0.225]);

/**
 * The DOM's image types, declared empty as src/webgpu-globals.ts declares WebGPU's: interfaces
 * merge, so with the DOM library (a browser app) the full types apply, and a Node project without
 * it still compiles resgpu's .d.ts with `skipLibCheck: false`.
 */
declare global {
  interface ImageBitmap {}
  interface HTMLCanvasElement {}
  interface OffscreenCanvas {}
  interface HTMLImageElement {}
}

/** RGBA bytes, row-major, 4 per pixel: an ImageData, or the same made by hand (Node, a decoder). */
export interface RgbaPixels {
  readonly data: Uint8ClampedArray | Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** What imageToInput reads. */
export type ImageInput = RgbaPixels | ImageBitmap | HTMLCanvasElement | OffscreenCanvas | HTMLImageElement;

export interface ImageToInputOptions {
  /** A loaded image model: its inputShape [C, H, W] gives `channels` and `size` unless they are given. */
  model?: { readonly inputShape?: readonly number[] };
  /** [H, W] of the rows (default: the model's; else the image's own size). */
  size?: readonly [number, number];
  /** 1 (luminance) or 3 (RGB); default the model's C, else 3. */
  channels?: number;
  /** 'imagenet' (default), 'none' (values in [0, 1]), or your training's `{ mean, std }`. */
  normalize?: 'imagenet' | 'none' | { mean: readonly number[]; std: readonly number[] };
  /** 'area' (default) or 'bilinear'. */
  resize?: 'area' | 'bilinear';
  /** 'stretch' (default) or 'center-crop'. */
  fit?: 'stretch' | 'center-crop';
  /** Dark ink on a light page → light on dark (255 − value), as data sets like MNIST store digits. */
  invert?: boolean;
}

/** The options made definite: what pixelsToInput applies. */
interface Plan {
  channels: 1 | 3;
  size: readonly [number, number] | null;
  mean: readonly number[];
  std: readonly number[];
  resize: 'area' | 'bilinear';
  fit: 'stretch' | 'center-crop';
  invert: boolean;
}

/** One image, or several as a batch, as the model's input rows (NCHW, float32). */
export function imageToInput(images: ImageInput | readonly ImageInput[], options: ImageToInputOptions = {}): Float32Array {
  const list = Array.isArray(images) ? (images as readonly ImageInput[]) : [images as ImageInput];
  if (list.length === 0) throw new InputError('imageToInput: no image given (an empty array).');
  const plan = planOf(options);
  const pixels = list.map((image, i) => readPixels(image, list.length > 1 ? `image ${i}` : 'the image'));
  const size = plan.size ?? [pixels[0]!.height, pixels[0]!.width];
  const rowSize = plan.channels * size[0] * size[1];
  const out = new Float32Array(list.length * rowSize);
  pixels.forEach((p, i) => {
    if (!plan.size && (p.height !== size[0] || p.width !== size[1]))
      throw new InputError(`imageToInput: image ${i} is ${p.width}×${p.height}, image 0 ${size[1]}×${size[0]}; give options.size (or a model) to resize them to one size.`);
    out.set(pixelsToRow(p, { ...plan, size }), i * rowSize);
  });
  return out;
}

function planOf(o: ImageToInputOptions): Plan {
  const shape = o.model?.inputShape;
  if (o.model && (!shape || shape.length !== 3))
    throw new OptionError(`imageToInput: the model takes rows of shape [${shape ?? ''}], not images [C, H, W].`);
  const channels = o.channels ?? shape?.[0] ?? 3;
  if (channels !== 1 && channels !== 3)
    throw new OptionError(`imageToInput: ${channels} channels; images give 1 (luminance) or 3 (RGB). Give channels: 1 or 3${shape ? ', or a model that takes them' : ''}.`);
  if (shape && shape[0] !== channels) throw new OptionError(`imageToInput: channels is ${channels} but the model takes ${shape[0]}.`);
  const size = o.size ?? (shape ? ([shape[1]!, shape[2]!] as const) : null);
  if (size && !(size.length === 2 && size.every((d) => Number.isInteger(d) && d >= 1)))
    throw new OptionError(`imageToInput: size must be [H, W], two positive integers, not [${size}].`);
  const normalize = o.normalize ?? 'imagenet';
  let mean: readonly number[], std: readonly number[];
  if (normalize === 'imagenet') {
    if (channels !== 3)
      throw new OptionError("imageToInput: ImageNet's mean and std are for RGB; for 1 channel give normalize: { mean: [m], std: [s] } (your training's) or 'none'.");
    [mean, std] = [IMAGENET_MEAN, IMAGENET_STD];
  } else if (normalize === 'none') [mean, std] = [[0], [1]];
  else if (typeof normalize === 'object' && normalize) [mean, std] = [normalize.mean, normalize.std];
  else throw new OptionError(`imageToInput: normalize must be 'imagenet', 'none' or { mean, std }, not ${String(normalize)}.`);
  for (const [name, v] of [['mean', mean], ['std', std]] as const) {
    if (!Array.isArray(v) || (v.length !== 1 && v.length !== channels) || !v.every(Number.isFinite))
      throw new OptionError(`imageToInput: normalize.${name} must hold 1 or ${channels} finite numbers (one per channel), not [${v}].`);
  }
  if (std.some((s) => s === 0)) throw new OptionError('imageToInput: normalize.std must not be 0.');
  if (o.resize !== undefined && o.resize !== 'area' && o.resize !== 'bilinear') throw new OptionError(`imageToInput: resize must be 'area' or 'bilinear', not ${String(o.resize)}.`);
  if (o.fit !== undefined && o.fit !== 'stretch' && o.fit !== 'center-crop') throw new OptionError(`imageToInput: fit must be 'stretch' or 'center-crop', not ${String(o.fit)}.`);
  return { channels, size, mean, std, resize: o.resize ?? 'area', fit: o.fit ?? 'stretch', invert: o.invert === true };
}

/** One image's row: the pure part, no DOM. */
function pixelsToRow(p: RgbaPixels, plan: Plan & { size: readonly [number, number] }): Float32Array {
  const [outH, outW] = plan.size;
  const { width, height, data } = p;
  // The source window: all of it, or the central part of the target's aspect ratio.
  let [x0, y0, w, h] = [0, 0, width, height];
  if (plan.fit === 'center-crop') {
    if (width * outH > height * outW) [w, x0] = [(height * outW) / outH, (width - (height * outW) / outH) / 2];
    else [h, y0] = [(width * outH) / outW, (height - (width * outH) / outW) / 2];
  }
  const weights = plan.resize === 'area' ? areaWeights : bilinearWeights;
  const cols = taps(weights(x0, w, width, outW));
  const rows = taps(weights(y0, h, height, outH));
  const used = new Uint8Array(height); // source rows some output row reads (bilinear skips most)
  rows.index.forEach((sy) => (used[sy] = 1));
  const out = new Float32Array(plan.channels * outH * outW);
  const line = new Float64Array(width); // one source row of one channel, 0..255
  const across = new Float64Array(height * outW); // one channel resized across, rows untouched
  for (let c = 0; c < plan.channels; c++) {
    for (let y = 0; y < height; y++) {
      if (!used[y]) continue;
      sourceLine(data, y * width * 4, width, c, plan, line);
      for (let x = 0; x < outW; x++) {
        let sum = 0;
        for (let t = cols.first[x]!; t < cols.first[x + 1]!; t++) sum += cols.weight[t]! * line[cols.index[t]!]!;
        across[y * outW + x] = sum;
      }
    }
    const mean = plan.mean[plan.mean.length === 1 ? 0 : c]!;
    const std = plan.std[plan.std.length === 1 ? 0 : c]!;
    for (let y = 0; y < outH; y++) {
      for (let x = 0; x < outW; x++) {
        let sum = 0;
        for (let t = rows.first[y]!; t < rows.first[y + 1]!; t++) sum += rows.weight[t]! * across[rows.index[t]! * outW + x]!;
        out[(c * outH + y) * outW + x] = (sum / 255 - mean) / std;
      }
    }
  }
  return out;
}

/** Channel c of a row of pixels starting at byte i, 0..255: R, G or B, or the luminance for one channel; inverted if asked. */
function sourceLine(data: RgbaPixels['data'], i: number, width: number, c: number, plan: Plan, line: Float64Array): void {
  for (let x = 0, j = i; x < width; x++, j += 4) {
    const v = plan.channels === 3 ? data[j + c]! : 0.299 * data[j]! + 0.587 * data[j + 1]! + 0.114 * data[j + 2]!;
    line[x] = plan.invert ? 255 - v : v;
  }
}

/** The (source index, weight) pairs of every output index, flat: output i's are first[i] .. first[i + 1] − 1. */
function taps(pairs: [number, number][][]): { first: Int32Array; index: Int32Array; weight: Float64Array } {
  const first = new Int32Array(pairs.length + 1);
  pairs.forEach((p, i) => (first[i + 1] = first[i]! + p.length));
  const flat = pairs.flat();
  return { first, index: Int32Array.from(flat, (p) => p[0]), weight: Float64Array.from(flat, (p) => p[1]) };
}

/** Per output index, the (source index, weight) pairs: the source window [start, start + span) of `size` cut in `out` equal parts, each the mean of what it covers. */
function areaWeights(start: number, span: number, size: number, out: number): [number, number][][] {
  const step = span / out;
  return Array.from({ length: out }, (_, i) => {
    const [a, b] = [start + i * step, start + (i + 1) * step];
    const pairs: [number, number][] = [];
    for (let j = Math.floor(a); j < Math.min(Math.ceil(b), size); j++) {
      const k = (Math.min(b, j + 1) - Math.max(a, j)) / step;
      if (k > 0) pairs.push([j, k]);
    }
    return pairs;
  });
}

/** PyTorch's bilinear source index (half-pixel centres, clamped at 0; align_corners=False) within the window. */
function bilinearWeights(start: number, span: number, size: number, out: number): [number, number][][] {
  const step = span / out;
  return Array.from({ length: out }, (_, i) => {
    const s = Math.max(0, start + (i + 0.5) * step - 0.5);
    const j = Math.min(Math.floor(s), size - 1);
    const k = s - j;
    return j + 1 < size && k > 0 ? [[j, 1 - k], [j + 1, k]] : [[j, 1]];
  });
}

/** The RGBA bytes of any accepted image, at its own size; a typed InputError for what cannot be read. */
function readPixels(image: ImageInput, what: string): RgbaPixels {
  if (image === null || typeof image !== 'object') throw new InputError(`imageToInput: ${what} is ${image === null ? 'null' : typeof image}, not an image.`);
  if ('data' in image) {
    const { data, width, height } = image;
    if (!(data instanceof Uint8ClampedArray || data instanceof Uint8Array))
      throw new InputError(`imageToInput: ${what}'s data is not RGBA bytes (a Uint8ClampedArray or Uint8Array).`);
    checkSize(width, height, what);
    if (data.length !== width * height * 4)
      throw new InputError(`imageToInput: ${what} is ${width}×${height} but holds ${data.length} bytes, not ${width * height * 4} (4 per pixel: RGBA).`);
    return image;
  }
  const isImg = typeof HTMLImageElement !== 'undefined' && image instanceof HTMLImageElement;
  if (isImg && !(image.complete && image.naturalWidth > 0))
    throw new InputError(`imageToInput: ${what} (an <img>) has not loaded (or failed to); await img.decode() before reading it.`);
  const [width, height] = isImg ? [image.naturalWidth, image.naturalHeight] : [image.width, image.height];
  checkSize(width, height, what);
  try {
    // A 2d canvas is read as it is; anything else is drawn 1:1 on a scratch canvas first.
    let context: CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null =
      'getContext' in image ? (image.getContext('2d', { willReadFrequently: true }) as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null) : null;
    if (!context) {
      context = scratchContext(width, height);
      context.drawImage(image, 0, 0);
    }
    return context.getImageData(0, 0, width, height);
  } catch (e) {
    if (e instanceof InputError) throw e;
    const name = (e as { name?: string }).name;
    if (name === 'SecurityError')
      throw new InputError(`imageToInput: ${what} is cross-origin and the page may not read its pixels; serve it with CORS (Access-Control-Allow-Origin) and set img.crossOrigin = 'anonymous'.`);
    if (name === 'InvalidStateError')
      throw new InputError(`imageToInput: ${what} cannot be read: a canvas whose control was transferred (transferControlToOffscreen), a transferred OffscreenCanvas or a closed ImageBitmap; read the canvas that draws, where it lives.`);
    throw e;
  }
}

function checkSize(width: number, height: number, what: string): void {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0))
    throw new InputError(`imageToInput: ${what} is ${width}×${height}: no pixels (a zero-size canvas, a closed ImageBitmap, a transferred OffscreenCanvas?).`);
}

/** A 2d context of that size on an OffscreenCanvas, else a <canvas>; neither exists in Node. */
function scratchContext(width: number, height: number): OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D {
  let context: OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D | null = null;
  if (typeof OffscreenCanvas !== 'undefined') context = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true });
  else if (typeof document !== 'undefined') {
    const canvas = Object.assign(document.createElement('canvas'), { width, height });
    context = canvas.getContext('2d', { willReadFrequently: true });
  }
  if (!context) throw new InputError('imageToInput: no canvas to draw on here (Node has none); give RGBA pixels ({ data, width, height }) instead.');
  return context;
}
