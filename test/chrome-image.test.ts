import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openChromePage, type ChromePage } from './helpers/chrome.js';
import { expectClose } from './helpers/compare.js';
import { makeImageCases, type ImageCase } from './helpers/image-cases.js';

/**
 * imageToInput's DOM sources in headless Chromium (the built bundle): a 2d <canvas>, an
 * OffscreenCanvas, an ImageBitmap and a decoded PNG <img>, each holding the RGBA images of
 * test/python/make_image_cases.py, against the rows numpy, F.interpolate and torchvision computed
 * for them; a batch of mixed sources; and the typed refusals of what cannot be read (zero size, a
 * canvas whose control was transferred, a transferred OffscreenCanvas, a closed ImageBitmap, an
 * <img> not loaded). The images are made opaque here: a canvas stores premultiplied alpha, which
 * would round the colours of translucent pixels, and imageToInput drops alpha anyway.
 */
const SOURCES = ['canvas', 'offscreen', 'bitmap', 'img'] as const;
// As test/image.test.ts: float64 rounded once to float32, values within ±3.
const TOLERANCE = 1e-6;

let chrome: ChromePage;
let cases: ImageCase[] = [];
beforeAll(async () => {
  cases = makeImageCases('image-cases-chrome.json').map((c) => ({ ...c, rgba: c.rgba.map((v, i) => (i % 4 === 3 ? 255 : v)) }));
  chrome = await openChromePage();
});
afterAll(async () => {
  await chrome?.close();
});

/** In the page: the case's pixels put in a source of that kind, then imageToInput's rows. */
function rowsInPage(c: ImageCase, kinds: readonly string[]): Promise<number[]> {
  return chrome.page.evaluate(
    async (c, kinds) => {
      const data = new ImageData(Uint8ClampedArray.from(c.rgba), c.width, c.height);
      const canvas = Object.assign(document.createElement('canvas'), { width: c.width, height: c.height });
      canvas.getContext('2d')!.putImageData(data, 0, 0);
      const make = async (kind: string): Promise<CanvasImageSource | OffscreenCanvas> => {
        if (kind === 'canvas') return canvas;
        if (kind === 'offscreen') {
          const o = new OffscreenCanvas(c.width, c.height);
          o.getContext('2d')!.putImageData(data, 0, 0);
          return o;
        }
        if (kind === 'bitmap') return createImageBitmap(data, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
        const png = await new Promise<Blob>((ok) => canvas.toBlob((b) => ok(b!), 'image/png'));
        const img = new Image();
        img.src = URL.createObjectURL(png);
        await img.decode();
        return img;
      };
      const sources = await Promise.all(kinds.map(make));
      return Array.from(window.resgpu.imageToInput((sources.length === 1 ? sources[0] : sources) as never, c.options));
    },
    c,
    kinds,
  );
}

describe.each(SOURCES)('from %s', (kind) => {
  test('every case matches numpy, PyTorch and torchvision', async () => {
    expect(cases).toHaveLength(7);
    for (const c of cases) expectClose(await rowsInPage(c, [kind]), c.float64, TOLERANCE);
  });
});

test('a batch of mixed sources: rows in order', async () => {
  const c = cases[2]!;
  const rows = await rowsInPage(c, SOURCES);
  expectClose(rows, SOURCES.flatMap(() => c.float64), TOLERANCE);
});

test('what cannot be read is refused with an InputError that says why', async () => {
  const r = await chrome.page.evaluate(async () => {
    const errorOf = async (f: () => unknown) => {
      try {
        await f();
        return 'no error';
      } catch (e) {
        return `${(e as Error).name}: ${(e as Error).message}`;
      }
    };
    const { imageToInput } = window.resgpu;
    const zero = Object.assign(document.createElement('canvas'), { width: 0, height: 10 });
    const placeholder = Object.assign(document.createElement('canvas'), { width: 8, height: 8 });
    placeholder.transferControlToOffscreen();
    const transferred = new OffscreenCanvas(8, 8);
    new MessageChannel().port1.postMessage(transferred, [transferred]);
    const closed = await createImageBitmap(new ImageData(8, 8));
    closed.close();
    const img = new Image();
    return {
      zero: await errorOf(() => imageToInput(zero)),
      placeholder: await errorOf(() => imageToInput(placeholder)),
      transferred: await errorOf(() => imageToInput(transferred)),
      closed: await errorOf(() => imageToInput(closed)),
      unloaded: await errorOf(() => imageToInput(img)),
    };
  });
  expect(r.zero).toMatch(/^InputError: imageToInput: the image is 0×10: no pixels/);
  expect(r.placeholder).toMatch(/^InputError: imageToInput: the image cannot be read: a canvas whose control was transferred/);
  expect(r.transferred).toMatch(/^InputError: imageToInput: the image is 0×0: no pixels .*transferred OffscreenCanvas/);
  expect(r.closed).toMatch(/^InputError: imageToInput: the image is 0×0: no pixels .*closed ImageBitmap/);
  expect(r.unloaded).toMatch(/^InputError: imageToInput: the image \(an <img>\) has not loaded/);
});
