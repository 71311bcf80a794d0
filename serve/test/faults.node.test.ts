import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadModel, type Model } from 'resgpu';
import { BREAST_CANCER, example, expectClose, startServer, until } from './helpers.js';
import { infer } from './oip-client.js';

/**
 * What a misbehaving client costs: a 100 MB body is refused before it is read whole (declared,
 * or streamed without a length), and a client that goes away costs at most its own rows (none
 * if it leaves while its request waits for a run). Raw sockets, to misbehave as real clients do.
 */
const MB100 = 100 * 1024 * 1024;
let model: Model;
let server: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  model = await loadModel(example('breast_cancer.pt'));
  // A long batching wait: requests sit in the queue long enough for their clients to leave.
  server = await startServer([{ name: 'breast_cancer', model }], { maxWaitUs: 1_500_000, maxBatchRows: 1024 });
});
afterAll(async () => {
  await server?.close();
  await model?.dispose();
});

function open(): Promise<{ socket: Socket; response: Promise<string> }> {
  const { port } = new URL(server.url);
  return new Promise((ok, fail) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      let text = '';
      socket.setEncoding('latin1');
      socket.on('data', (d) => (text += d));
      const response = new Promise<string>((done) => {
        socket.on('data', () => /\r\n\r\n/.test(text) && done(text));
        socket.on('close', () => done(text));
      });
      ok({ socket, response });
    });
    socket.on('error', fail);
  });
}

const head = (path: string, extra: string) => `POST ${path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n${extra}\r\n`;

test.each(['/v2/models/breast_cancer/infer', '/v1/predict'])('%s: a declared 100 MB body gets 413 after 64 KiB of it', async (path) => {
  const { socket, response } = await open();
  socket.write(head(path, `Content-Length: ${MB100}\r\n`));
  socket.write(Buffer.alloc(64 * 1024, 0x20));
  const text = await response;
  expect(text).toMatch(/^HTTP\/1\.1 413 /);
  socket.destroy();
});

test('a 100 MB body streamed without a length is cut off near the limit, not read whole', async () => {
  const { socket, response } = await open();
  socket.on('error', () => {}); // the server may close while we still write
  socket.write(head('/v2/models/breast_cancer/infer', 'Transfer-Encoding: chunked\r\n'));
  let sent = 0;
  let answered = false;
  void response.then(() => (answered = true));
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  while (!answered && !socket.destroyed && sent < MB100) {
    const drained = socket.write(`${chunk.length.toString(16)}\r\n`) && socket.write(chunk) && socket.write('\r\n');
    sent += chunk.length;
    if (!drained) await Promise.race([new Promise((r) => socket.once('drain', r)), response, new Promise((r) => setTimeout(r, 200))]);
  }
  const text = await response;
  expect(text).toMatch(/^HTTP\/1\.1 413 /);
  expect(text).toMatch(/"error"/);
  // The limit is 1 MiB; what was sent past it sat in socket buffers, far from 100 MB.
  expect(sent).toBeLessThan(16 * 1024 * 1024);
  socket.destroy();
});

async function counters() {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name}\\{model="breast_cancer",version="1"\\} ([\\d.e+]+)`, 'm').exec(text)?.[1] ?? 0);
  return { rows: value('resgpu_batch_rows_sum'), abandoned: value('resgpu_abandoned_requests_total'), depth: value('resgpu_queue_depth') };
}

test('clients that leave while their requests wait cost no rows; the others get their answers', async () => {
  const before = await counters();
  const body = (rows: number[][]) => JSON.stringify({ inputs: [{ name: 'input', shape: [rows.length, 30], datatype: 'FP32', data: rows.flat() }] });
  const leaving = await Promise.all([0, 1, 2].map(() => open()));
  for (const { socket } of leaving) {
    const b = body(BREAST_CANCER.inputs.slice(0, 10));
    socket.write(head('/v2/models/breast_cancer/infer', `Content-Length: ${Buffer.byteLength(b)}\r\n`) + b);
  }
  const staying = infer(server.url, 'breast_cancer', { name: 'input', rows: BREAST_CANCER.inputs.slice(20, 23), datatype: 'FP32' });
  await until(async () => (await counters()).depth === 4);
  for (const { socket } of leaving) socket.destroy();
  const answer = await staying;
  expect(answer.status).toBe(200);
  expectClose(answer.outputs, BREAST_CANCER.torch_logits.slice(20, 23).flat());
  const after = await counters();
  expect(after.abandoned - before.abandoned).toBe(3);
  expect(after.rows - before.rows).toBe(3); // the staying request's rows only, not the 30 abandoned
});

test('a client that leaves mid-body costs nothing: no run, and the server answers the next request', async () => {
  const before = await counters();
  const { socket } = await open();
  socket.write(head('/v2/models/breast_cancer/infer', 'Content-Length: 10000\r\n') + '{"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP32", "data": [1, 2,');
  await new Promise((r) => setTimeout(r, 100));
  socket.destroy();
  const next = await infer(server.url, 'breast_cancer', { name: 'input', rows: BREAST_CANCER.inputs.slice(0, 1), datatype: 'FP32', binary: true });
  expect(next.status).toBe(200);
  expectClose(next.outputs, BREAST_CANCER.torch_logits[0]!);
  expect((await counters()).rows - before.rows).toBe(1);
});

test('--no-batching: one request per run, and a request whose client left while it waited never runs', async () => {
  // The model's runs held at a gate, so that requests queue behind the first one for certain.
  let open_gate!: () => void;
  const gate = new Promise<void>((r) => (open_gate = r));
  const gated: Model = Object.create(model, { run: { value: async (x: Float32Array) => (await gate, model.run(x)) } });
  const single = await startServer([{ name: 'breast_cancer', model: gated }], { batching: false });
  try {
    const stats = async () => {
      const text = await (await fetch(`${single.url}/metrics`)).text();
      const value = (name: string) => Number(new RegExp(`^${name}\\{model="breast_cancer",version="1"\\} ([\\d.e+]+)`, 'm').exec(text)?.[1] ?? 0);
      return { runs: value('resgpu_batch_rows_count'), rows: value('resgpu_batch_rows_sum'), abandoned: value('resgpu_abandoned_requests_total'), depth: value('resgpu_queue_depth') };
    };
    const first = infer(single.url, 'breast_cancer', { name: 'input', rows: BREAST_CANCER.inputs.slice(0, 2), datatype: 'FP32' });
    await until(async () => (await stats()).runs === 1); // in its run, at the gate
    const { port } = new URL(single.url);
    const leaving = await Promise.all([0, 1, 2].map(() => new Promise<Socket>((ok) => {
      const socket = connect(Number(port), '127.0.0.1', () => ok(socket));
    })));
    const b = JSON.stringify({ inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: BREAST_CANCER.inputs[5] }] });
    for (const socket of leaving) socket.write(head('/v2/models/breast_cancer/infer', `Content-Length: ${Buffer.byteLength(b)}\r\n`) + b);
    const staying = infer(single.url, 'breast_cancer', { name: 'input', rows: BREAST_CANCER.inputs.slice(20, 23), datatype: 'FP32', binary: true });
    await until(async () => (await stats()).depth === 4);
    for (const socket of leaving) socket.destroy();
    await until(async () => (await stats()).abandoned === 3);
    open_gate();
    const [a, c] = await Promise.all([first, staying]);
    expectClose(a.outputs, BREAST_CANCER.torch_logits.slice(0, 2).flat());
    expectClose(c.outputs, BREAST_CANCER.torch_logits.slice(20, 23).flat());
    // Two runs, one per request that stayed, of their own rows: the three abandoned never ran.
    expect(await stats()).toEqual({ runs: 2, rows: 5, abandoned: 3, depth: 0 });
  } finally {
    open_gate();
    await single.close();
  }
});
