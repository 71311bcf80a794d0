import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadModel, type Model } from 'resgpu';
import { scaledError } from '../../test/helpers/compare.js';
import { nodeGpu } from '../../test/helpers/node-gpu.js';
import { postJson, spawnServer, startServer, until } from './helpers.js';
import { infer, type InferInput } from './oip-client.js';

/**
 * An image ResNet through the Open Inference Protocol, against PyTorch: torchvision's resnet18
 * (random weights, BatchNorm statistics randomized) at 3×64×64, made and exported at test time by
 * serve/test/python/make_oip_vision.py with a preprocess record in its manifest, served on WebGPU
 * (SwiftShader: a CPU). [N, 3, 64, 64] FP32 tensors in JSON (flat and nested) and in binary, and
 * PNG uploads on /v1, whose preprocessing must follow the file's mean and std unless the server's
 * flags say otherwise. Tolerance: 2e-4 of the output's scale (helpers/compare.ts's scaledError),
 * as test/vision-webgpu.node.test.ts allows these networks: f32 on both sides, convolutions of
 * up to 4,608 terms summed in another order (implicit GEMM, BatchNorm folded), over 20 layers.
 */
const TOLERANCE = 2e-4;

interface Cases {
  shape: [number, number, number];
  file_stats: { mean: number[]; std: number[] };
  flag_stats: { mean: number[]; std: number[] };
  tensors: { x: number[]; float32: number[] };
  /** PyTorch's outputs for each PNG, preprocessed with the file's statistics and with the flags'. */
  images: { name: string; with_file_stats: number[]; with_flag_stats: number[] }[];
}

const dir = mkdtempSync(join(tmpdir(), 'resgpu-oip-vision-'));
let cases: Cases;
let model: Model;
let server: Awaited<ReturnType<typeof startServer>>;
let names: { input: string; output: string };
const MODEL_FILE = () => join(dir, 'resnet18_64.safetensors');

beforeAll(async () => {
  execFileSync('/usr/bin/python3', [resolve(import.meta.dirname, 'python/make_oip_vision.py'), dir], { stdio: ['ignore', 'inherit', 'inherit'] });
  cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as Cases;
  model = await loadModel(MODEL_FILE(), { gpu: await nodeGpu() });
  server = await startServer([{ name: 'resnet18', file: 'resnet18_64.safetensors', model }]);
  names = { input: model.inputNames![0]!, output: model.outputNames![0]! };
});
afterAll(async () => {
  await server?.close();
  await model?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const rows = (): number[][] => {
  const width = cases.shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: cases.tensors.x.length / width }, (_, r) => cases.tensors.x.slice(r * width, (r + 1) * width));
};
const tensor = (over: Partial<InferInput> = {}): InferInput => ({ name: names.input, output: names.output, rows: rows(), rowShape: cases.shape, datatype: 'FP32', ...over });

test('model metadata: input [-1, 3, 64, 64], output [-1, 10]; the file\'s preprocess is model.preprocess and in the parameters', async () => {
  const res = await fetch(`${server.url}/v2/models/resnet18`);
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({
    name: 'resnet18',
    platform: 'resgpu_webgpu',
    inputs: [{ name: names.input, datatype: 'FP32', shape: [-1, 3, 64, 64] }],
    outputs: [{ name: names.output, datatype: 'FP32', shape: [-1, 10] }],
  });
  expect(model.preprocess).toEqual({ ...cases.file_stats, size: [64, 64], color: 'rgb' });
  // The protocol's parameters say it to clients, which preprocess their own tensors.
  const metadata = await (await fetch(`${server.url}/v2/models/resnet18`)).json();
  expect(metadata.parameters).toMatchObject({ preprocess_mean: cases.file_stats.mean.join(','), preprocess_std: cases.file_stats.std.join(',') });
});

describe('[N, 3, 64, 64] FP32 tensors equal PyTorch', () => {
  test('JSON, flat data', async () => {
    const r = await infer(server.url, 'resnet18', tensor());
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.outputs[0]).toMatchObject({ name: names.output, datatype: 'FP32', shape: [3, 10] });
    expect(scaledError(r.outputs, cases.tensors.float32)).toBeLessThanOrEqual(TOLERANCE);
  });

  test('JSON, data nested as the shape [3, 3, 64, 64], through the versioned URL', async () => {
    const r = await infer(server.url, 'resnet18/versions/1', tensor({ nested: true }));
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(scaledError(r.outputs, cases.tensors.float32)).toBeLessThanOrEqual(TOLERANCE);
  });

  test('binary in and out: Inference-Header-Content-Length, binary_data_size, the output asked for as binary', async () => {
    const r = await infer(server.url, 'resnet18', tensor({ binary: true }));
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/octet-stream');
    expect(r.json.outputs[0]).toEqual({ name: names.output, datatype: 'FP32', shape: [3, 10], parameters: { binary_data_size: 3 * 10 * 4 } });
    expect(scaledError(r.outputs, cases.tensors.float32)).toBeLessThanOrEqual(TOLERANCE);
  });

  test('a tensor of another image size is refused, naming the model\'s shape', async () => {
    const r = await infer(server.url, 'resnet18', tensor({ rows: [rows()[0]!.slice(0, 3 * 32 * 32)], rowShape: [3, 32, 32] }));
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/shape \[1, 3, 32, 32\]; model 'resnet18' takes \[-1, 3, 64, 64\]/);
  });
});

function upload(url: string, files: string[]) {
  const form = new FormData();
  for (const f of files) form.append('image', new Blob([readFileSync(join(dir, f))]), f);
  return fetch(url, { method: 'POST', body: form }).then(async (res) => ({ status: res.status, json: (await res.json()) as any }));
}

describe('images on /v1: the mean and std the exporter wrote into the file', () => {
  test('a PNG upload equals PyTorch on torchvision\'s preprocessing with the file\'s statistics', async () => {
    const { status, json } = await upload(`${server.url}/v1/predict`, cases.images.map((i) => i.name));
    expect(status, JSON.stringify(json)).toBe(200);
    expect(scaledError(json.outputs.flat(), cases.images.flatMap((i) => i.with_file_stats))).toBeLessThanOrEqual(TOLERANCE);
    // The statistics the server would otherwise use (the flags' here) answer otherwise: the check can fail.
    expect(scaledError(json.outputs.flat(), cases.images.flatMap((i) => i.with_flag_stats))).toBeGreaterThan(100 * TOLERANCE);
  });

  test('the OpenAPI description says where the statistics come from', async () => {
    const doc = await (await fetch(`${server.url}/openapi.json`)).json();
    expect(doc.paths['/v1/predict'].post.description).toContain(`mean [${cases.file_stats.mean.join(', ')}] (the model file's)`);
  });

  test('--image-mean and --image-std override the file', async () => {
    const flagged = await startServer([{ name: 'resnet18', model }], { images: cases.flag_stats });
    try {
      const [image] = cases.images;
      const { status, json } = await postJson(`${flagged.url}/v1/predict`, { images: [readFileSync(join(dir, image!.name)).toString('base64')] });
      expect(status, JSON.stringify(json)).toBe(200);
      expect(scaledError(json.outputs.flat(), image!.with_flag_stats)).toBeLessThanOrEqual(TOLERANCE);
    } finally {
      await flagged.close();
    }
  });
});

test('resgpu-serve --no-batching on the image model: SIGTERM with requests queued answers each (PyTorch\'s outputs) and exits 0', async () => {
  const child = await spawnServer([`resnet18=${MODEL_FILE()}`, '--backend', 'webgpu', '--no-batching']);
  const [first] = rows();
  const requests = Array.from({ length: 8 }, (_, i) =>
    i % 4 === 3
      ? upload(`${child.url}/v1/predict`, [cases.images[0]!.name]).then(({ status, json }) => ({ status, outputs: json.outputs.flat() as number[], expected: cases.images[0]!.with_file_stats }))
      : infer(child.url, 'resnet18', tensor({ rows: [first!], binary: i % 2 === 1 })).then((r) => ({ status: r.status, outputs: r.outputs, expected: cases.tensors.float32.slice(0, 10) })),
  );
  // One run at a time: most of them wait in the server's queue when the signal arrives.
  await until(async () => Number(/^resgpu_queue_depth\{model="resnet18",version="1"\} (\d+)$/m.exec(await (await fetch(`${child.url}/metrics`)).text())?.[1]) >= 4, 60_000);
  child.child.kill('SIGTERM');
  const answers = await Promise.all(requests);
  for (const a of answers) {
    expect(a.status).toBe(200);
    expect(scaledError(a.outputs, a.expected)).toBeLessThanOrEqual(TOLERANCE);
  }
  expect(await child.exited).toBe(0);
  const [, answered, received] = /answered (\d+) of the (\d+) requests received/.exec(child.stdout()) ?? [];
  expect(answered).toBe(received);
});

test('resgpu-serve --input-shape 3,64,64 serves the bare state_dict (.pt), which records no image size', async () => {
  const pt = join(dir, 'resnet18_64.pt');
  const child = await spawnServer([`resnet18=${pt}`, '--input-shape', '3,64,64', '--backend', 'cpu']);
  try {
    const meta = await (await fetch(`${child.url}/v2/models/resnet18`)).json();
    expect(meta.inputs).toEqual([{ name: expect.any(String), datatype: 'FP32', shape: [-1, 3, 64, 64] }]);
    const r = await infer(child.url, 'resnet18', tensor({ name: meta.inputs[0].name, output: meta.outputs[0].name, rows: rows().slice(0, 1), binary: true }));
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(scaledError(r.outputs, cases.tensors.float32.slice(0, 10))).toBeLessThanOrEqual(TOLERANCE);
  } finally {
    child.child.kill('SIGTERM');
    expect(await child.exited).toBe(0);
  }
  // Without it, the start fails naming the option (exit 3, nothing served).
  await expect(spawnServer([`resnet18=${pt}`, '--backend', 'cpu'])).rejects.toThrow(/exited \(3\).*inputShape/s);
});
