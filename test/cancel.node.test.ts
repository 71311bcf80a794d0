import { createServer, type Server } from 'node:http';
import { afterEach, beforeAll, expect, test } from 'vitest';
import { loadModel, ModelFormatError, ResgpuError } from '../src/index.js';
import { nodeDevice } from './helpers/node-gpu.js';
import { makeRandomModel } from './helpers/random-model.js';
import { trackDevice } from './helpers/track.js';

/**
 * Cancellable loads: `signal` stops the download (the connection is closed), the parse and
 * the GPU work, frees every GPU buffer, and rejects with an AbortError-named ResgpuError;
 * any failed load cancels the response body too.
 */
let device: GPUDevice;
let server: Server | undefined;
beforeAll(async () => {
  device = await nodeDevice();
});
afterEach(() => server?.close());

const settle = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

/** Sends the first `sent` bytes, then stalls forever; `closed` resolves when the client lets go of the connection. */
async function stallingServer(bytes: Uint8Array, sent: number): Promise<{ url: string; closed: Promise<void> }> {
  let onClose!: () => void;
  const closed = new Promise<void>((ok) => (onClose = ok));
  server = createServer((req, res) => {
    res.writeHead(200, { 'Content-Length': bytes.byteLength });
    res.write(bytes.subarray(0, sent));
    req.socket.on('close', onClose);
  });
  await new Promise<void>((ok) => server!.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/m`, closed };
}

function expectAbortError(e: unknown): void {
  expect(e).toBeInstanceOf(ResgpuError);
  expect((e as ResgpuError).name).toBe('AbortError');
  expect((e as ResgpuError).code).toBe('ABORTED');
}

test.each(['webgpu', 'cpu'] as const)('%s: aborting a stalled download rejects at once and closes the connection', async (backend) => {
  const { bytes } = makeRandomModel({ input: 16, blocks: [{ hidden: 64 }, { hidden: 64 }] });
  const { url, closed } = await stallingServer(bytes, Math.floor(bytes.byteLength / 2));
  const tracker = trackDevice(device);
  try {
    const controller = new AbortController();
    const loading = loadModel(url, backend === 'cpu' ? { backend, signal: controller.signal } : { device, signal: controller.signal });
    await settle(300);
    controller.abort();
    expectAbortError(await loading.catch((e: unknown) => e));
    await closed; // the server saw the connection go: the body was cancelled, not left unread
    await settle(100);
    expect(tracker.liveBuffers()).toBe(0);
  } finally {
    tracker.restore();
  }
});

test.each(['fold', 'upload', 'compile'] as const)('aborting at the %s stage frees every GPU buffer', async (stage) => {
  const { bytes } = makeRandomModel({ input: 16, blocks: [{ hidden: 32 }, { hidden: 32 }], head: { out: 3 } });
  const tracker = trackDevice(device);
  try {
    const controller = new AbortController();
    const failure = await loadModel(bytes, {
      device,
      signal: controller.signal,
      onProgress: (p) => p.stage === stage && controller.abort(),
    }).catch((e: unknown) => e);
    expectAbortError(failure);
    // loadModel rejects only once what the load made is freed
    expect(tracker.liveBuffers()).toBe(0);
  } finally {
    tracker.restore();
  }
});

test('an already aborted signal rejects before anything is read', async () => {
  const controller = new AbortController();
  controller.abort();
  expectAbortError(await loadModel('http://127.0.0.1:9/never', { signal: controller.signal }).catch((e: unknown) => e));
});

test('a load that fails part way cancels the response body', async () => {
  // A safetensors header that is not JSON, then a body that never ends: the parse fails on the header.
  const head = new Uint8Array(8 + 20);
  new DataView(head.buffer).setBigUint64(0, 20n, true);
  head.set(new TextEncoder().encode('{'.repeat(20)), 8);
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    start: (c) => c.enqueue(head),
    pull: () => new Promise(() => undefined),
    cancel: () => void (cancelled = true),
  });
  const response = new Response(body, { headers: { 'content-length': '100000' } });
  const failure = await loadModel(response, { backend: 'cpu' }).catch((e: unknown) => e);
  expect(failure).toBeInstanceOf(ModelFormatError);
  expect(cancelled).toBe(true);
});

test('aborting after the load resolved leaves the model working', async () => {
  const { bytes } = makeRandomModel({ input: 4, blocks: [{ hidden: 8 }] });
  const controller = new AbortController();
  const model = await loadModel(bytes, { device, signal: controller.signal });
  controller.abort();
  expect((await model.run(new Float32Array(4))).length).toBe(4);
  await model.dispose();
});

test('a Content-Length of 10^12 bytes is a FetchError (not a RangeError), and the body is cancelled', async () => {
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => undefined), cancel: () => void (cancelled = true) });
  const failure = await loadModel(new Response(body, { headers: { 'content-length': String(10 ** 12) } }), { backend: 'cpu' }).catch((e: unknown) => e);
  expect(failure).toBeInstanceOf(ResgpuError);
  expect((failure as ResgpuError).code).toBe('FETCH');
  expect((failure as Error).message).toMatch(/Content-Length of 1000000000000 bytes/);
  expect(cancelled).toBe(true);
});
