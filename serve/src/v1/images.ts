/**
 * Images to model rows, for models whose input is [C, H, W]: decode (PNG with pngjs, JPEG with
 * jpeg-js, both pure JS), pick the model's channels, resize and normalize as torchvision's
 * ImageNet preprocessing does. Every refusal is an ImageError, answered as a 4xx JSON body.
 */

import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

/**
 * torchvision's ImageNet statistics (transforms.Normalize in its reference scripts): the default
 * for a 3-channel model whose file records no `preprocess`. (Defined here, for the server; the
 * library itself applies no preprocessing.)
 */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

export interface ImageOptions {
  /** Per-channel mean after scaling to [0, 1]: one value per model channel (--image-mean; wins over the file's). */
  mean?: readonly number[];
  std?: readonly number[];
  /** The model file's own mean and std (its manifest's `preprocess`, model.preprocess): used where no flag is given. */
  file?: { mean: readonly number[]; std: readonly number[] };
  /** Largest image accepted, in pixels, checked from the header before decoding (default 40 M). */
  maxPixels?: number;
  /** Images per request (default 32). */
  maxImages?: number;
  /** Bytes per uploaded file (default 16 MiB). */
  maxFileBytes?: number;
}

export const IMAGE_DEFAULTS = { maxPixels: 40_000_000, maxImages: 32, maxFileBytes: 16 << 20 } as const;

/** A refusal naming the problem; the route answers it as it is. */
export class ImageError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The server's image options for one model: with its file's mean and std where it records them. */
export function imageOptionsFor(model: { preprocess?: { mean: readonly number[]; std: readonly number[] } }, options: ImageOptions = {}): ImageOptions {
  return model.preprocess ? { ...options, file: { mean: model.preprocess.mean, std: model.preprocess.std } } : options;
}

/** The steps, for people: the server's help and the OpenAPI description print this. */
export function describePreprocessing(c: number, h: number, w: number, options: ImageOptions = {}): string {
  const { mean, std, from } = meanStd(c, options);
  return (
    `Images (PNG or JPEG) are decoded, then: ${c === 3 ? 'RGB channels (an alpha channel is dropped; a grayscale image is refused)' : 'luminance (0.299 R + 0.587 G + 0.114 B for a color image)'}; ` +
    `scaled to [0, 1] (value / 255); resized to ${h}×${w} (height × width) with antialiased bilinear interpolation ` +
    `(torchvision's Resize((${h}, ${w}), antialias=True) on a float tensor); normalized per channel as (x - mean) / std ` +
    `with mean [${mean.join(', ')}] (${from.mean}) and std [${std.join(', ')}] (${from.std}); laid out as C×H×W (NCHW).`
  );
}

/** The channels, height and width a model takes images in, or null: images need [1|3, H, W]. */
export function imageShapeOf(rowShape: readonly number[]): [number, number, number] | null {
  if (rowShape.length !== 3) return null;
  const [c, h, w] = rowShape as [number, number, number];
  return c === 1 || c === 3 ? [c, h, w] : null;
}

/** Each of mean and std from the server's flag, else from the model file, else the default; and whence. */
function meanStd(c: number, options: ImageOptions): { mean: number[]; std: number[]; from: { mean: string; std: string } } {
  const fallback = c === 3 ? { mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD] } : { mean: [0.5], std: [0.5] };
  const pick = (what: 'mean' | 'std'): [number[], string] => {
    const given = options[what];
    if (given) {
      if (given.length === c) return [[...given], `--image-${what}`];
      if (given.length === 1) return [new Array<number>(c).fill(given[0]!), `--image-${what}`];
      throw new Error(`--image-${what} has ${given.length} values; the model has ${c} channels.`);
    }
    // The file's were checked against the input's channels when it loaded.
    if (options.file) return [[...options.file[what]], "the model file's"];
    return [fallback[what], c === 3 ? "torchvision's ImageNet default" : 'the default'];
  };
  const [mean, meanFrom] = pick('mean');
  const [std, stdFrom] = pick('std');
  return { mean, std, from: { mean: meanFrom, std: stdFrom } };
}

interface Header {
  format: 'PNG' | 'JPEG';
  width: number;
  height: number;
  /** Channels in the file: 1 gray, 2 gray + alpha, 3 color, 4 color + alpha (or CMYK for JPEG). */
  channels: number;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 3, 4: 2, 6: 4 };

/** The format, size and channels from the first bytes alone, so a huge declared size costs nothing. */
export function readHeader(b: Buffer, name: string): Header {
  if (b.length >= 8 && b.subarray(0, 8).equals(PNG_SIGNATURE)) {
    if (b.length < 33) throw new ImageError(400, 'truncated_image', `${name}: the PNG ends inside its header (${b.length} bytes).`);
    if (b.toString('latin1', 12, 16) !== 'IHDR') throw new ImageError(400, 'invalid_image', `${name}: a PNG without its IHDR header.`);
    const channels = PNG_CHANNELS[b[25]!];
    if (!channels) throw new ImageError(400, 'invalid_image', `${name}: PNG color type ${b[25]} does not exist.`);
    return { format: 'PNG', width: b.readUInt32BE(16), height: b.readUInt32BE(20), channels };
  }
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return jpegHeader(b, name);
  throw new ImageError(415, 'not_an_image', `${name}: not a PNG or JPEG image (its first bytes match neither signature).`);
}

/** Walks the JPEG's marker segments to its frame header (SOFn): height, width, components. */
function jpegHeader(b: Buffer, name: string): Header {
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) throw new ImageError(400, 'invalid_image', `${name}: a JPEG with a broken marker at byte ${i}.`);
    const marker = b[i + 1]!;
    if (marker === 0xff) { i++; continue; } // fill byte
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) { i += 2; continue; } // no length
    const length = b.readUInt16BE(i + 2);
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) {
      if (i + 10 > b.length) break;
      return { format: 'JPEG', height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7), channels: b[i + 9]! };
    }
    i += 2 + length;
  }
  throw new ImageError(400, 'truncated_image', `${name}: the JPEG ends before its frame header.`);
}

/** One image as a model row (C·H·W floats, NCHW), preprocessed as describePreprocessing says. */
export function imageToRow(bytes: Buffer, name: string, shape: readonly [number, number, number], options: ImageOptions = {}): Float32Array {
  const [c, h, w] = shape;
  const header = readHeader(bytes, name);
  const maxPixels = options.maxPixels ?? IMAGE_DEFAULTS.maxPixels;
  if (header.width === 0 || header.height === 0) throw new ImageError(400, 'invalid_image', `${name}: declares ${header.width} × ${header.height} pixels.`);
  if (header.width * header.height > maxPixels) {
    throw new ImageError(413, 'image_too_large', `${name}: ${header.format} declares ${header.width} × ${header.height} pixels, over the limit of ${maxPixels} pixels.`);
  }
  if (c === 3 && header.channels < 3) {
    throw new ImageError(422, 'wrong_channel_count', `${name}: a grayscale ${header.format} (${header.channels} channel${header.channels > 1 ? 's' : ''}); the model takes 3 channels (RGB). Convert it to RGB.`);
  }
  if (header.format === 'JPEG' && header.channels !== 1 && header.channels !== 3) {
    throw new ImageError(422, 'wrong_channel_count', `${name}: a JPEG with ${header.channels} components (CMYK?); the model takes ${c === 3 ? '3 channels (RGB)' : '1 channel (grayscale)'}.`);
  }
  const rgba = decode(bytes, header, name, maxPixels);
  const { mean, std } = meanStd(c, options);
  const row = new Float32Array(c * h * w);
  for (let ch = 0; ch < c; ch++) {
    // Read straight from the decoded RGBA: no full-size float copy of a large image.
    // A color image to a 1-channel model: PIL's "L" weights (ITU-R 601-2); gray images have r = g = b.
    const at = c === 3 ? (p: number) => rgba[4 * p + ch]! / 255 : (p: number) => (0.299 * rgba[4 * p]! + 0.587 * rgba[4 * p + 1]! + 0.114 * rgba[4 * p + 2]!) / 255;
    const resized = resizeBilinearAA(at, header.height, header.width, h, w);
    const m = mean[ch]!, s = std[ch]!;
    for (let p = 0; p < h * w; p++) row[ch * h * w + p] = (resized[p]! - m) / s;
  }
  return row;
}

/** Decoded pixels as 8-bit RGBA (gray replicated into R, G and B by both decoders). */
function decode(bytes: Buffer, header: Header, name: string, maxPixels: number): Uint8Array {
  try {
    if (header.format === 'PNG') return PNG.sync.read(bytes).data;
    // Not tolerant: a truncated JPEG is refused rather than answered with its missing part gray.
    return jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, tolerantDecoding: false, maxResolutionInMP: maxPixels / 1e6, maxMemoryUsageInMB: 1024 }).data;
  } catch (e) {
    const detail = (e as Error).message || String(e);
    // Truncation told by the file's missing end marker (PNG's IEND chunk, JPEG's EOI), not the decoder's wording.
    const end = bytes.subarray(bytes.length - 12);
    const truncated = header.format === 'PNG' ? end.toString('latin1', 4, 8) !== 'IEND' : !(end[10] === 0xff && end[11] === 0xd9);
    throw new ImageError(400, truncated ? 'truncated_image' : 'invalid_image', `${name}: the ${header.format} could not be decoded${truncated ? ' (truncated?)' : ''}: ${detail}`);
  }
}

/**
 * Antialiased bilinear resize of one plane, separable, as torchvision's resize(antialias=True)
 * (ATen's _upsample_bilinear2d_aa, also PIL's BILINEAR): a triangle filter widened by the scale
 * when shrinking, half-pixel centers, weights renormalized at the edges. `src` reads the
 * source plane (sh × sw, row-major) by index; only one sh × dw intermediate is allocated.
 */
export function resizeBilinearAA(src: (index: number) => number, sh: number, sw: number, dh: number, dw: number): Float64Array {
  const wx = filterWeights(sw, dw);
  const wy = filterWeights(sh, dh);
  const tmp = new Float64Array(sh * dw);
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < dw; x++) {
      const { start, weights } = wx[x]!;
      let acc = 0;
      for (let k = 0; k < weights.length; k++) acc += weights[k]! * src(y * sw + start + k);
      tmp[y * dw + x] = acc;
    }
  }
  const out = new Float64Array(dh * dw);
  for (let y = 0; y < dh; y++) {
    const { start, weights } = wy[y]!;
    for (let x = 0; x < dw; x++) {
      let acc = 0;
      for (let k = 0; k < weights.length; k++) acc += weights[k]! * tmp[(start + k) * dw + x]!;
      out[y * dw + x] = acc;
    }
  }
  return out;
}

function filterWeights(inSize: number, outSize: number): { start: number; weights: Float64Array }[] {
  const scale = inSize / outSize;
  const support = Math.max(scale, 1); // the triangle's half-width, in input pixels
  return Array.from({ length: outSize }, (_, i) => {
    const center = (i + 0.5) * scale;
    const start = Math.max(Math.floor(center - support + 0.5), 0);
    const end = Math.min(Math.floor(center + support + 0.5), inSize);
    const weights = new Float64Array(end - start);
    let total = 0;
    for (let j = start; j < end; j++) total += weights[j - start] = Math.max(0, 1 - Math.abs((j + 0.5 - center) / support));
    for (let k = 0; k < weights.length; k++) weights[k] = weights[k]! / total;
    return { start, weights };
  });
}
