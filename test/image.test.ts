import { beforeAll, describe, expect, test } from 'vitest';
import { IMAGENET_MEAN, IMAGENET_STD, imageToInput, type RgbaPixels } from '../src/index.js';
import { expectClose } from './helpers/compare.js';
import { makeImageCases, type ImageCase } from './helpers/image-cases.js';

/**
 * imageToInput's pixel part in Node (no DOM): RGBA bytes → normalized NCHW rows, every resize,
 * fit, channel and normalization, against rows computed independently by
 * test/python/make_image_cases.py (numpy's exact area means, F.interpolate, torchvision's
 * ToTensor + Normalize); batches; and the typed refusals. The DOM sources (canvas, ImageBitmap,
 * <img>) are tested in headless Chromium: test/chrome-image.test.ts.
 */
let cases: ImageCase[] = [];
beforeAll(() => {
  cases = makeImageCases('image-cases.json');
});
const pixels = (c: ImageCase): RgbaPixels => ({ data: Uint8ClampedArray.from(c.rgba), width: c.width, height: c.height });

// The rows are computed in float64 and rounded to float32 once: 2⁻²⁴ of values within ±3 (ImageNet
// normalization of 0..1 reaches (1 − 0.406) / 0.225 ≈ 2.64), and torchvision's own case is float32
// throughout. 1e-6 of max(1, |expected|) leaves room for that and nothing else: a pixel taken
// from the wrong place or a wrong weight moves values by 1e-3 or more.
const TOLERANCE = 1e-6;

test('the ImageNet constants are torchvision\'s', () => {
  expect(IMAGENET_MEAN).toEqual([0.485, 0.456, 0.406]);
  expect(IMAGENET_STD).toEqual([0.229, 0.224, 0.225]);
});

describe('against numpy, PyTorch and torchvision', () => {
  test('every case', () => {
    expect(cases.length).toBe(7);
    for (const c of cases) {
      const row = imageToInput(pixels(c), c.options);
      expect(row.length, c.name).toBe(c.float64.length);
      expectClose(row, c.float64, TOLERANCE);
    }
  });

  test('several images make a batch, rows in order, each as alone (sizes differ: resized to one)', () => {
    const [a, b] = [cases[0]!, cases[2]!];
    const options = { size: [8, 8] as [number, number], resize: 'bilinear' as const };
    const batch = imageToInput([pixels(a), pixels(b)], options);
    const rows = [imageToInput(pixels(a), options), imageToInput(pixels(b), options)];
    expect(batch.length).toBe(2 * 3 * 64);
    expect(Array.from(batch)).toEqual([...rows[0]!, ...rows[1]!]);
  });

  test("a model's inputShape gives channels and size", () => {
    const c = cases[6]!; // luminance 32×32 → 8×8
    const row = imageToInput(pixels(c), { model: { inputShape: [1, 8, 8] }, normalize: 'none' });
    expectClose(row, c.float64, TOLERANCE);
  });
});

describe('refusals, typed, saying what to do', () => {
  const ok: RgbaPixels = { data: new Uint8ClampedArray(4 * 6), width: 3, height: 2 };
  test.each([
    ['a zero-size image', () => imageToInput({ data: new Uint8ClampedArray(0), width: 0, height: 5 }), 'InputError', /0×5: no pixels/],
    ['bytes that are not width × height × 4', () => imageToInput({ data: new Uint8ClampedArray(20), width: 3, height: 2 }), 'InputError', /holds 20 bytes, not 24/],
    ['data that is not bytes', () => imageToInput({ data: new Float32Array(24) as never, width: 3, height: 2 }), 'InputError', /not RGBA bytes/],
    ['an empty batch', () => imageToInput([]), 'InputError', /no image/],
    ['a batch of two sizes without a size', () => imageToInput([ok, { data: new Uint8ClampedArray(16), width: 2, height: 2 }]), 'InputError', /give options.size/],
    ['a canvas-like object in Node', () => imageToInput({ width: 4, height: 4 } as never), 'InputError', /Node has none/],
    ['2 channels', () => imageToInput(ok, { channels: 2 }), 'OptionError', /1 \(luminance\) or 3 \(RGB\)/],
    ['channels other than the model\'s', () => imageToInput(ok, { channels: 3, model: { inputShape: [1, 8, 8] }, normalize: 'none' }), 'OptionError', /the model takes 1/],
    ['a 4-channel model', () => imageToInput(ok, { model: { inputShape: [4, 8, 8] } }), 'OptionError', /4 channels/],
    ['a model that takes feature rows', () => imageToInput(ok, { model: { inputShape: [30] } }), 'OptionError', /not images/],
    ['ImageNet statistics for 1 channel', () => imageToInput(ok, { channels: 1 }), 'OptionError', /for 1 channel give normalize/],
    ['3 means for 1 channel', () => imageToInput(ok, { channels: 1, normalize: { mean: [0.1, 0.2, 0.3], std: [1] } }), 'OptionError', /mean must hold 1 or 1/],
    ['a zero std', () => imageToInput(ok, { normalize: { mean: [0], std: [0, 1, 1] } }), 'OptionError', /std must not be 0/],
    ['a bad size', () => imageToInput(ok, { size: [0, 8] }), 'OptionError', /two positive integers/],
    ['an unknown resize', () => imageToInput(ok, { resize: 'nearest' as never }), 'OptionError', /resize must be/],
  ])('%s', (_, call, name, message) => {
    expect(call).toThrow(message);
    try {
      call();
    } catch (e) {
      expect((e as Error).name).toBe(name);
    }
  });
});
