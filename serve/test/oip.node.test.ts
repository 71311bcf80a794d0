import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadModel, type Model } from 'resgpu';
import { BREAST_CANCER, example, expectClose, postJson, startServer } from './helpers.js';
import { encodeBinary, infer, readInferResponse } from './oip-client.js';

/**
 * The Open Inference Protocol (KServe v2) over real HTTP, through a client written from the
 * specification (oip-client.ts). The bundled example (a torch.save state_dict) on the engine's
 * default backend; outputs checked against PyTorch's logits, recorded when it was trained,
 * within helpers/compare.ts's 1e-4 · max(1, |ref|) (f32 on both sides, sums in another order).
 */
const ROWS = BREAST_CANCER.inputs;
const TORCH = BREAST_CANCER.torch_logits.flat();

let model: Model;
let server: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  model = await loadModel(example('breast_cancer.pt'));
  server = await startServer([{ name: 'breast_cancer', file: 'breast_cancer.pt', model }], { maxWaitUs: 2000, maxRows: 200 });
});
afterAll(async () => {
  await server?.close();
  await model?.dispose();
});

describe('health and metadata', () => {
  test('GET /v2/health/live, /v2/health/ready: 200 with the protocol\'s bodies', async () => {
    for (const [path, body] of [['live', { live: true }], ['ready', { ready: true }]] as const) {
      const res = await fetch(`${server.url}/v2/health/${path}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual(body);
    }
  });

  test('GET /v2: name, version and the binary tensor data extension', async () => {
    const res = await fetch(`${server.url}/v2`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ name: 'resgpu-serve', version: expect.any(String), extensions: ['binary_tensor_data'] });
  });

  test.each(['breast_cancer', 'breast_cancer/versions/1'])('GET /v2/models/%s: inputs and outputs with -1 for the batch', async (path) => {
    const res = await fetch(`${server.url}/v2/models/${path}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      name: 'breast_cancer',
      versions: ['1'],
      platform: `resgpu_${model.backend}`,
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 30] }],
      outputs: [{ name: 'output', datatype: 'FP32', shape: [-1, 2] }],
    });
    const ready = await fetch(`${server.url}/v2/models/${path}/ready`);
    expect([ready.status, await ready.json()]).toEqual([200, { name: 'breast_cancer', ready: true }]);
  });

  test.each([
    ['/v2/models/nope', 'GET'],
    ['/v2/models/nope/ready', 'GET'],
    ['/v2/models/nope/infer', 'POST'],
    ['/v2/models/breast_cancer/versions/2', 'GET'],
    ['/v2/models/breast_cancer/versions/2/infer', 'POST'],
  ])('%s (%s): 404 with {"error": ...}', async (path, method) => {
    const res = await fetch(`${server.url}${path}`, { method, ...(method === 'POST' && { body: '{"inputs": []}', headers: { 'content-type': 'application/json' } }) });
    expect(res.status).toBe(404);
    const body = await res.json();
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error).toMatch(/model 'nope'|no version '2'/);
  });
});

describe('inference', () => {
  test('JSON, flat FP32: the whole test set equals PyTorch, with the id, model name and version echoed', async () => {
    const r = await infer(server.url, 'breast_cancer', { name: 'input', rows: ROWS, datatype: 'FP32', id: 'req-42' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.json).toMatchObject({ model_name: 'breast_cancer', model_version: '1', id: 'req-42', outputs: [{ name: 'output', datatype: 'FP32', shape: [ROWS.length, 2] }] });
    expectClose(r.outputs, TORCH);
  });

  test('JSON nested as the shape, FP64, through the versioned URL', async () => {
    const r = await infer(server.url, 'breast_cancer/versions/1', { name: 'input', rows: ROWS.slice(0, 20), datatype: 'FP64', nested: true });
    expect(r.status).toBe(200);
    expect(r.json.id).toBeUndefined();
    expectClose(r.outputs, TORCH.slice(0, 40));
  });

  test('binary in, binary out: Inference-Header-Content-Length both ways, PyTorch\'s outputs', async () => {
    const r = await infer(server.url, 'breast_cancer', { name: 'input', rows: ROWS, datatype: 'FP32', binary: true });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/octet-stream');
    expect(Number(r.headers.get('inference-header-content-length'))).toBeGreaterThan(0);
    expect(r.json.outputs[0]).toEqual({ name: 'output', datatype: 'FP32', shape: [ROWS.length, 2], parameters: { binary_data_size: ROWS.length * 8 } });
    expectClose(r.outputs, TORCH);
  });

  test('binary in, JSON out; JSON in, binary out through parameters.binary_data_output', async () => {
    const rows = ROWS.slice(0, 10);
    const data = encodeBinary(rows.flat(), 'FP64');
    const json = Buffer.from(JSON.stringify({ inputs: [{ name: 'input', shape: [10, 30], datatype: 'FP64', parameters: { binary_data_size: data.byteLength } }] }));
    const a = await readInferResponse(await fetch(`${server.url}/v2/models/breast_cancer/infer`, {
      method: 'POST',
      headers: { 'inference-header-content-length': String(json.byteLength) }, // no content type at all
      body: new Uint8Array(Buffer.concat([json, data])),
    }));
    expect([a.status, a.headers.get('inference-header-content-length')]).toEqual([200, null]);
    expectClose(a.outputs, TORCH.slice(0, 20));
    const b = await readInferResponse(await fetch(`${server.url}/v2/models/breast_cancer/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ parameters: { binary_data_output: true }, inputs: [{ name: 'input', shape: [10, 30], datatype: 'FP32', data: rows.flat() }] }),
    }));
    expect(b.json.outputs[0].parameters).toEqual({ binary_data_size: 80 });
    expectClose(b.outputs, TORCH.slice(0, 20));
  });

  // Small integers: exact in every datatype (FP16 included), so every conversion must give the FP32 answer exactly.
  const row = (lo: number, hi: number) => Array.from({ length: 30 }, (_, i) => lo + ((i * 37) % (hi - lo + 1)));
  const cases: [string, number[][]][] = [
    ['INT8', [row(-128, 127)]], ['INT16', [row(-3000, 3000)]], ['INT32', [row(-5000, 5000)]], ['INT64', [row(-5000, 5000)]],
    ['UINT8', [row(0, 255)]], ['UINT16', [row(0, 4000)]], ['UINT32', [row(0, 4000)]], ['UINT64', [row(0, 4000)]],
    ['FP16', [row(-2048, 2048)]], ['FP64', [row(-5000, 5000)]],
  ];
  test.each(cases)('%s, in JSON and in binary, converts to the FP32 input exactly', async (datatype, rows) => {
    const reference = await infer(server.url, 'breast_cancer', { name: 'input', rows, datatype: 'FP32' });
    expect(reference.status).toBe(200);
    for (const binary of [false, true]) {
      const r = await infer(server.url, 'breast_cancer', { name: 'input', rows, datatype, binary });
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      expect(r.outputs).toEqual(reference.outputs);
    }
  });

  test('requests of every kind share the batcher: /v1 and /v2, JSON and binary, coalesced', async () => {
    const before = await batchCounts();
    const requests = ROWS.slice(0, 60).map((r, i) =>
      i % 3 === 0
        ? postJson(`${server.url}/v1/predict`, { inputs: [r] }).then(({ json }) => json.outputs.flat() as number[])
        : infer(server.url, 'breast_cancer', { name: 'input', rows: [r], datatype: 'FP32', binary: i % 3 === 2 }).then((x) => x.outputs),
    );
    const outputs = await Promise.all(requests);
    outputs.forEach((o, i) => expectClose(o, BREAST_CANCER.torch_logits[i]!));
    const after = await batchCounts();
    expect(after.requests - before.requests).toBe(60);
    expect(after.runs - before.runs).toBeLessThan(60);
  });
});

async function batchCounts(): Promise<{ runs: number; requests: number }> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name}\\{model="breast_cancer",version="1"\\} ([\\d.e+]+)`, 'm').exec(text)![1]);
  return { runs: value('resgpu_batch_requests_count'), requests: value('resgpu_batch_requests_sum') };
}

describe('bad requests: 400 with {"error": ...} saying what is wrong', () => {
  const r0 = ROWS[0]!;
  const input = (over: Record<string, unknown>) => ({ inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: r0, ...over }] });
  const cases: [string, unknown, RegExp][] = [
    ['BOOL', input({ datatype: 'BOOL', data: r0.map(() => true) }), /datatype BOOL; model 'breast_cancer' takes numbers/],
    ['BYTES', input({ datatype: 'BYTES', data: ['a'] }), /datatype BYTES/],
    ['an unknown datatype', input({ datatype: 'FLOAT' }), /datatype must be equal to one of the allowed values/],
    ['a shape that is not the model\'s', input({ shape: [1, 29], data: r0.slice(1) }), /shape \[1, 29\]; model 'breast_cancer' takes \[-1, 30\]/],
    ['a shape of rank 1', input({ shape: [30] }), /shape \[30\]/],
    ['flat data of the wrong length', input({ shape: [2, 30] }), /holds 60 elements, but "data" holds 30/],
    ['nested data not as the shape', input({ shape: [2, 30], data: [[...r0, ...r0]] }), /nested, but not as shape \[2, 30\]/],
    ['a string element', input({ data: r0.map((v, i) => (i === 3 ? '595.9' : v)) }), /element \[0, 3\] is "595.9", not a number/],
    ['an INT8 out of range', input({ datatype: 'INT8', data: r0.map(() => 200) }), /element \[0, 0\] is 200, not a INT8/],
    ['a fraction in INT32', input({ datatype: 'INT32', data: r0 }), /not a INT32/],
    ['an FP64 past float32', input({ datatype: 'FP64', data: r0.map((v, i) => (i === 5 ? 1e39 : v)) }), /element \[0, 5\] is 1e\+39, which is not a finite float32/],
    ['no rows', input({ shape: [0, 30], data: [] }), /at least one row/],
    ['too many rows', input({ shape: [201, 30], data: Array(201).fill(r0).flat() }), /201 rows; this server takes at most 200/],
    ['another input name', input({ name: 'x' }), /takes one input, 'input'; the request has 'x'/],
    ['two inputs', { inputs: [input({}).inputs[0], input({}).inputs[0]] }, /takes one input/],
    ['an unknown output', { ...input({}), outputs: [{ name: 'logits' }] }, /has one output, 'output'; the request asks for 'logits'/],
    ['no data', input({ data: undefined }), /has no "data"/],
    ['no inputs', { id: '1' }, /must have required property 'inputs'/],
    ['a shape of text', input({ shape: ['1', 30] }), /shape\/0 must be integer/],
  ];
  test.each(cases)('%s', async (_name, body, message) => {
    const res = await postJson(`${server.url}/v2/models/breast_cancer/infer`, body);
    expect(res.status).toBe(400);
    expect(Object.keys(res.json)).toEqual(['error']);
    expect(res.json.error).toMatch(message);
  });

  const binaryCases: [string, (json: Buffer, data: Uint8Array) => { header: string; body: Uint8Array }, RegExp][] = [
    ['a binary_data_size that is not the shape\'s', (j, d) => ({ header: String(j.length), body: Buffer.concat([j, d, Buffer.alloc(4)]) }), /takes 120 bytes|bytes after the JSON/],
    ['binary data cut short', (j, d) => ({ header: String(j.length), body: Buffer.concat([j, d.subarray(0, 60)]) }), /declares 120 bytes of binary data, but the body holds 60/],
    ['a header past the body', (j, d) => ({ header: String(j.length + d.length + 1), body: Buffer.concat([j, d]) }), /Inference-Header-Content-Length is "\d+"/],
    ['binary data without the header', (j, d) => ({ header: '', body: Buffer.concat([j, d]) }), /not valid JSON.*needs the Inference-Header-Content-Length header/],
  ];
  test.each(binaryCases)('%s', async (_name, make, message) => {
    const data = encodeBinary(r0, 'FP32');
    const json = Buffer.from(JSON.stringify({ inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', parameters: { binary_data_size: 120 } }] }));
    const { header, body } = make(json, data);
    const res = await fetch(`${server.url}/v2/models/breast_cancer/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', ...(header && { 'inference-header-content-length': header }) },
      body: new Uint8Array(body),
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatch(message);
  });

  test('a NaN in binary FP32 data is refused, naming the element', async () => {
    const values = [...r0];
    values[7] = NaN;
    const r = await infer(server.url, 'breast_cancer', { name: 'input', rows: [values], datatype: 'FP32', binary: true });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/element \[0, 7\] is NaN, which is not a finite float32/);
  });

  test('an unknown /v2 route answers 404 in the protocol\'s error body', async () => {
    const res = await fetch(`${server.url}/v2/repository/index`);
    expect(res.status).toBe(404);
    expect(Object.keys(await res.json())).toEqual(['error']);
  });
});
