import { createServer, type Server } from 'node:http';
import { afterEach, beforeAll, expect, test } from 'vitest';
import { loadModel, ResgpuError, type LoadProgress } from '../src/index.js';
import { expectClose } from './helpers/compare.js';
import { nodeDevice } from './helpers/node-gpu.js';
import { makeRandomModel, randomInput } from './helpers/random-model.js';
import { torchCases, torchFile } from './helpers/torch-cases.js';
import { trackDevice } from './helpers/track.js';

/**
 * Loading while the file downloads: layers are folded and uploaded as soon as their tensors
 * have arrived, before the download ends. The server here sends the first part of the file,
 * pauses, then sends the rest (or breaks off).
 */
let device: GPUDevice;
let server: Server | undefined;
beforeAll(async () => {
  device = await nodeDevice();
});
afterEach(() => server?.close());

async function serveInTwoParts(bytes: Uint8Array, split: number, breakOff = false): Promise<string> {
  server = createServer(async (_, res) => {
    res.writeHead(200, { 'Content-Length': bytes.byteLength });
    res.write(bytes.subarray(0, split));
    await new Promise((ok) => setTimeout(ok, 400));
    if (breakOff) res.destroy();
    else res.end(bytes.subarray(split));
  });
  await new Promise<void>((ok) => server!.listen(0, '127.0.0.1', ok));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/model`;
}

const stagesBeforeDownloadEnds = (progress: LoadProgress[], total: number) =>
  progress.slice(0, progress.findIndex((p) => p.stage === 'download' && p.loadedBytes === total)).map((p) => p.stage);

// torch.save orders storages by key as strings (0, 1, 10, 100, ..., 2, 20, ...), so a .pt's
// layers complete only near its end; its data.pkl comes first, so the graph, the checks and
// the GPU set-up still overlap the download. A .safetensors file is in layer order.
test.each([
  ['safetensors', 'upload'],
  ['pt', 'parse'],
])('a .%s file is read while it downloads: "%s" comes before the download ends', async (format, stage) => {
  const c = torchCases().find((t) => t.name === 'eight_blocks_widths_changing')!;
  const bytes = torchFile(`${c.name}.${format}`);
  const url = await serveInTwoParts(bytes, Math.floor(bytes.byteLength * 0.6));
  const progress: LoadProgress[] = [];
  const model = await loadModel(url, { device, onProgress: (p) => progress.push({ ...p }) });
  expect(stagesBeforeDownloadEnds(progress, bytes.byteLength)).toContain(stage);
  expectClose(await model.run(Float32Array.from(c.x)), c.y);
  await model.dispose();
});

test('a download that breaks off fails with a typed error and leaves nothing on the GPU', async () => {
  const { bytes } = makeRandomModel({ input: 16, blocks: [{ hidden: 64 }, { hidden: 64 }, { hidden: 64 }] });
  const url = await serveInTwoParts(bytes, Math.floor(bytes.byteLength * 0.7), true);
  const tracker = trackDevice(device);
  try {
    const failure = await loadModel(url, { device }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ResgpuError);
    expect(tracker.liveBuffers()).toBe(0);
  } finally {
    tracker.restore();
  }
});

test('the CPU backend reads the same stream', async () => {
  const config = { input: 9, blocks: [{ hidden: 12, bn: true }], head: { out: 2 } };
  const { bytes } = makeRandomModel(config);
  const url = await serveInTwoParts(bytes, 100);
  const [gpu, cpu] = [await loadModel(bytes, { device }), await loadModel(url, { backend: 'cpu' })];
  const x = randomInput(3, 9);
  expectClose(await gpu.run(x), await cpu.run(x));
  await gpu.dispose();
});
