import { Validator } from '@seriousme/openapi-schema-validator';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadModel, type Model } from 'resgpu';
import { makeRandomCnn } from '../../test/helpers/random-cnn.js';
import { serveCommand, SERVE_HELP } from '../src/index.js';
import { expectClose, postJson, startServer } from './helpers.js';

/**
 * Images over HTTP on the CPU backend: two small residual CNNs made here, an RGB one
 * ([3, 17, 15]) and a grayscale one ([1, 16, 13]). Uploaded PNG and JPEG images must give the
 * outputs of the model run on this file's own float64 preprocessing, written from torchvision's
 * definition (ToTensor, Resize((H, W), antialias=True), Normalize) rather than the server's code.
 */
let rgb: Model;
let gray: Model;
let server: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  [rgb, gray] = await Promise.all([loadModel(makeRandomCnn('basic').bytes, { backend: 'cpu' }), loadModel(makeRandomCnn('bottleneck').bytes, { backend: 'cpu' })]);
  server = await startServer([{ name: 'rgb', model: rgb }, { name: 'gray', model: gray }]);
});
afterAll(async () => {
  await server?.close();
  await Promise.all([rgb?.dispose(), gray?.dispose()]);
});

/** Deterministic pixels: a smooth pattern plus a seeded jitter, so resizing has detail to mix. */
function pixels(width: number, height: number, channels: number, seed: number): Uint8Array {
  let s = seed;
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 4; c++) {
        s = (s * 1103515245 + 12345) >>> 0;
        const v = (x * 13 + y * 7 + c * 50 + (s >>> 24) / 4) & 255;
        data[(y * width + x) * 4 + c] = c === 3 ? (channels === 4 ? v : 255) : v;
      }
      if (channels === 1) data.fill(data[(y * width + x) * 4]!, (y * width + x) * 4, (y * width + x) * 4 + 3);
    }
  }
  return data;
}

function png(width: number, height: number, channels: 1 | 3 | 4, seed = 1): { bytes: Buffer; rgba: Uint8Array } {
  const rgba = pixels(width, height, channels, seed);
  const image = new PNG({ width, height });
  image.data = Buffer.from(rgba);
  const colorType = channels === 1 ? 0 : channels === 3 ? 2 : 6;
  return { bytes: PNG.sync.write(image, { colorType, inputColorType: 6, inputHasAlpha: true }), rgba };
}

function jpg(width: number, height: number, seed = 2): { bytes: Buffer; rgba: Uint8Array } {
  const bytes = jpeg.encode({ width, height, data: Buffer.from(pixels(width, height, 3, seed)) }, 90).data;
  // The reference reads the pixels the JPEG holds (lossy), decoded here by the same library.
  return { bytes, rgba: jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true }).data };
}

/** torchvision's preprocessing in float64: the row the model should see. */
function reference(rgba: Uint8Array, width: number, height: number, [c, h, w]: readonly [number, number, number], mean: number[], std: number[]): Float32Array {
  const row = new Float32Array(c * h * w);
  // Antialiased bilinear (ATen's _upsample_bilinear2d_aa): the triangle filter, widened by the
  // scale when shrinking, over every source pixel, normalized by its total weight.
  const tri = (d: number, scale: number) => Math.max(0, 1 - Math.abs(d) / Math.max(scale, 1));
  const sy = height / h, sx = width / w;
  for (let ch = 0; ch < c; ch++) {
    for (let oy = 0; oy < h; oy++) {
      for (let ox = 0; ox < w; ox++) {
        let sum = 0, total = 0;
        for (let y = 0; y < height; y++) {
          const wy = tri(y + 0.5 - (oy + 0.5) * sy, sy);
          if (wy === 0) continue;
          for (let x = 0; x < width; x++) {
            const wx = tri(x + 0.5 - (ox + 0.5) * sx, sx);
            if (wx === 0) continue;
            const p = (y * width + x) * 4;
            const v = c === 3 ? rgba[p + ch]! : 0.299 * rgba[p]! + 0.587 * rgba[p + 1]! + 0.114 * rgba[p + 2]!;
            sum += wx * wy * (v / 255);
            total += wx * wy;
          }
        }
        row[(ch * h + oy) * w + ox] = (sum / total - mean[ch]!) / std[ch]!;
      }
    }
  }
  return row;
}

const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
const RGB_SHAPE = [3, 17, 15] as const;
const GRAY_SHAPE = [1, 16, 13] as const;

async function expected(model: Model, rows: Float32Array[]): Promise<number[]> {
  const x = new Float32Array(rows.length * model.inputSize);
  rows.forEach((r, i) => x.set(r, i * model.inputSize));
  return Array.from(await model.run(x));
}

function upload(url: string, files: { bytes: Uint8Array; name: string }[], field = 'image') {
  const form = new FormData();
  for (const f of files) form.append(field, new Blob([new Uint8Array(f.bytes)]), f.name);
  return fetch(url, { method: 'POST', body: form }).then(async (res) => ({ status: res.status, json: (await res.json()) as any }));
}

describe('images on /v1/predict', () => {
  test('a multipart upload of PNG (RGB, RGBA) and JPEG files gives the model run on torchvision preprocessing', async () => {
    const a = png(40, 37, 3), b = png(9, 8, 4, 5), c = jpg(30, 25);
    const { status, json } = await upload(`${server.url}/v1/predict`, [
      { bytes: a.bytes, name: 'a.png' },
      { bytes: b.bytes, name: 'b.png' },
      { bytes: c.bytes, name: 'c.jpg' },
    ]);
    expect(status, JSON.stringify(json)).toBe(200);
    const rows = [reference(a.rgba, 40, 37, RGB_SHAPE, IMAGENET.mean, IMAGENET.std), reference(b.rgba, 9, 8, RGB_SHAPE, IMAGENET.mean, IMAGENET.std), reference(c.rgba, 30, 25, RGB_SHAPE, IMAGENET.mean, IMAGENET.std)];
    expect(json.outputs).toHaveLength(3);
    expectClose(json.outputs.flat(), await expected(rgb, rows));
  });

  test('JSON {"images": [base64]} equals the upload; a grayscale model takes luminance with mean 0.5, std 0.5', async () => {
    const a = png(20, 21, 3, 9), g = png(33, 10, 1, 4);
    const viaJson = await postJson(`${server.url}/v1/predict`, { images: [a.bytes.toString('base64')] });
    expect(viaJson.status, JSON.stringify(viaJson.json)).toBe(200);
    expectClose(viaJson.json.outputs.flat(), await expected(rgb, [reference(a.rgba, 20, 21, RGB_SHAPE, IMAGENET.mean, IMAGENET.std)]));

    const colorToGray = png(25, 30, 3, 6);
    const { status, json } = await postJson(`${server.url}/v1/models/gray/predict`, { images: [g.bytes.toString('base64'), `data:image/png;base64,${colorToGray.bytes.toString('base64')}`] });
    expect(status, JSON.stringify(json)).toBe(200);
    const rows = [reference(g.rgba, 33, 10, GRAY_SHAPE, [0.5], [0.5]), reference(colorToGray.rgba, 25, 30, GRAY_SHAPE, [0.5], [0.5])];
    expectClose(json.outputs.flat(), await expected(gray, rows));
  });

  test('rows as numbers still work on an image model', async () => {
    const row = Array.from({ length: rgb.inputSize }, (_, i) => Math.sin(i));
    const { status, json } = await postJson(`${server.url}/v1/predict`, { inputs: [row] });
    expect(status).toBe(200);
    expectClose(json.outputs.flat(), await expected(rgb, [Float32Array.from(row)]));
  });
});

test('images: { mean, std } (the --image-mean and --image-std flags) replace the ImageNet statistics', async () => {
  const custom = await startServer([{ name: 'rgb', model: rgb }], { images: { mean: [0.1, 0.2, 0.3], std: [0.5, 0.25, 2] } });
  try {
    const a = png(18, 18, 3, 11);
    const { status, json } = await postJson(`${custom.url}/v1/predict`, { images: [a.bytes.toString('base64')] });
    expect(status).toBe(200);
    expectClose(json.outputs.flat(), await expected(rgb, [reference(a.rgba, 18, 18, RGB_SHAPE, [0.1, 0.2, 0.3], [0.5, 0.25, 2])]));
  } finally {
    await custom.close();
  }
});

test('resgpu-serve documents the preprocessing and refuses a malformed --image-mean or --image-std', async () => {
  expect(SERVE_HELP).toMatch(/--image-mean A,B,C/);
  expect(SERVE_HELP).toMatch(/antialias=True/);
  for (const [flag, value] of [['--image-mean', '0.1,x,0.3'], ['--image-std', '0.2,0,0.2'], ['--image-std', '']]) {
    await expect(serveCommand(['m.safetensors', flag!, value!], () => {})).rejects.toThrow(new RegExp(`${flag} wants comma-separated`));
  }
});

describe('bad images get a 4xx JSON naming the problem', () => {
  const send = (bytes: Uint8Array, name = 'x.png') => upload(`${server.url}/v1/predict`, [{ bytes, name }]);

  test('truncated PNG and JPEG', async () => {
    const p = png(40, 37, 3).bytes;
    const r1 = await send(p.subarray(0, p.length >> 1));
    expect(r1.status).toBe(400);
    expect(r1.json).toMatchObject({ code: 'truncated_image' });
    expect(r1.json.message).toMatch(/PNG/);
    const j = jpg(30, 25).bytes;
    const r2 = await send(j.subarray(0, j.length >> 1), 'x.jpg');
    expect(r2.status).toBe(400);
    expect(r2.json.message).toMatch(/JPEG/);
    const r3 = await send(j.subarray(0, 40), 'x.jpg');
    expect(r3.status).toBe(400);
    expect(r3.json.code).toBe('truncated_image');
  });

  test('random bytes are not an image', async () => {
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7919 + 13) & 255);
    const { status, json } = await send(bytes, 'noise.bin');
    expect(status).toBe(415);
    expect(json).toMatchObject({ code: 'not_an_image' });
    expect(json.message).toMatch(/not a PNG or JPEG/);
  });

  test('a PNG declaring 50,000 × 50,000 pixels is refused from its header, before decoding', async () => {
    const header = Buffer.alloc(45);
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(header, 0);
    header.writeUInt32BE(13, 8);
    header.write('IHDR', 12, 'latin1');
    header.writeUInt32BE(50_000, 16);
    header.writeUInt32BE(50_000, 20);
    header[24] = 8; // bit depth
    header[25] = 2; // RGB
    const { status, json } = await send(header);
    expect(status).toBe(413);
    expect(json).toMatchObject({ code: 'image_too_large' });
    expect(json.message).toMatch(/50000 × 50000/);
  });

  test('a grayscale image to an RGB model names both channel counts', async () => {
    const { status, json } = await postJson(`${server.url}/v1/predict`, { images: [png(8, 8, 1).bytes.toString('base64')] });
    expect(status).toBe(422);
    expect(json).toMatchObject({ code: 'wrong_channel_count' });
    expect(json.message).toMatch(/grayscale PNG \(1 channel\).*3 channels/);
  });

  test('too many files, a wrong field name, and text that is not base64', async () => {
    const small = png(4, 4, 3).bytes;
    const many = await upload(`${server.url}/v1/predict`, Array.from({ length: 33 }, (_, i) => ({ bytes: small, name: `${i}.png` })));
    expect(many.status).toBe(413);
    expect(many.json.message).toMatch(/at most 32 images/);
    const field = await upload(`${server.url}/v1/predict`, [{ bytes: small, name: 'a.png' }], 'file');
    expect(field.status).toBe(400);
    expect(field.json.message).toMatch(/field "image"/);
    const text = await postJson(`${server.url}/v1/predict`, { images: ['not base64!'] });
    expect(text.status).toBe(400);
    expect(text.json.code).toBe('invalid_base64');
  });
});

test('/openapi.json stays valid OpenAPI 3 and shows a binary upload field for image models', async () => {
  const doc = await (await fetch(`${server.url}/openapi.json`)).json();
  const result = await new Validator().validate(doc);
  expect(result.errors).toBeUndefined();
  expect(result.valid).toBe(true);
  const body = doc.paths['/v1/predict'].post.requestBody.content;
  expect(body['multipart/form-data'].schema.properties.image).toMatchObject({ type: 'array', items: { type: 'string', format: 'binary' } });
  expect(body['application/json'].schema.properties.images).toBeDefined();
  expect(doc.paths['/v1/predict'].post.description).toMatch(/0\.485, 0\.456, 0\.406/);
  expect(doc.info.description).toMatch(/antialias/);
});
