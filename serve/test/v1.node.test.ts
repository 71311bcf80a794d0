import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Model } from 'resgpu';
import { BREAST_CANCER, expectClose, loadBoth, postJson, referenceRows, startServer } from './helpers.js';

/**
 * The HTTP API over real HTTP on 127.0.0.1: the bundled example on WebGPU (Dawn on
 * SwiftShader) behind the server, its answers checked against the float64 CPU reference
 * within compare.ts's GPU_TOLERANCE, 1e-4 · max(1, |ref|) (f32 with BatchNorm folded against
 * f64: the reasoning is there). The JSON round trip adds nothing: a float32 printed by JSON is exact.
 */
const ROWS = BREAST_CANCER.inputs;
const FEATURES = BREAST_CANCER.feature_names;
const instance = (row: number[]) => Object.fromEntries(FEATURES.map((name, i) => [name, row[i]!]));

let gpu: Model;
let cpu: Model;
let server: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  ({ gpu, cpu } = await loadBoth('breast_cancer.safetensors'));
  server = await startServer([{ name: 'breast_cancer', file: 'breast_cancer.safetensors', model: gpu }], { maxWaitUs: 2000 });
});
afterAll(async () => {
  await server?.close();
  await gpu?.dispose();
});

describe('POST /v1/predict', () => {
  test('"inputs": the whole test set in one request equals the CPU reference, with the predicted labels', async () => {
    const { status, json } = await postJson(`${server.url}/v1/predict`, { inputs: ROWS });
    expect(status).toBe(200);
    const expected = await referenceRows(cpu, ROWS);
    expectClose(json.outputs.flat(), expected.flat());
    const argmax = (r: number[]) => (r[1]! > r[0]! ? 1 : 0);
    expect(json.labels).toEqual(expected.map((r) => BREAST_CANCER.classes[argmax(r)]));
  });

  test('"instances" keyed by feature name give the same outputs as "inputs"', async () => {
    const rows = ROWS.slice(0, 5);
    // Keys in reverse order: names, not positions, decide the column.
    const reversed = rows.map((row) => Object.fromEntries(Object.entries(instance(row)).reverse()));
    const { status, json } = await postJson(`${server.url}/v1/predict`, { instances: reversed });
    expect(status).toBe(200);
    expectClose(json.outputs.flat(), (await referenceRows(cpu, rows)).flat());
  });

  test('200 concurrent clients are all answered right, coalesced into fewer runs', async () => {
    const before = await batchRunCount();
    const requests = Array.from({ length: 200 }, (_, i) => {
      const rows = ROWS.slice(i % 100, (i % 100) + 1 + (i % 3)); // 1 to 3 rows each
      return postJson(`${server.url}/v1/predict`, i % 2 ? { inputs: rows } : { instances: rows.map(instance) }).then((r) => ({ r, rows }));
    });
    const answers = await Promise.all(requests);
    for (const { r, rows } of answers) {
      expect(r.status).toBe(200);
      expectClose(r.json.outputs.flat(), (await referenceRows(cpu, rows)).flat());
    }
    const runs = (await batchRunCount()) - before;
    expect(runs).toBeLessThan(200);
  });
});

/** Runs the model made so far, from /metrics. */
async function batchRunCount(): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/^resgpu_batch_requests_count(?:\{[^}]*\})? (\d+)/m.exec(text)![1]);
}

describe('bad requests get a 4xx naming the row, the field and what was expected', () => {
  let limited: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    limited = await startServer(gpu, { maxRows: 8, bodyLimit: 4096 });
  });
  afterAll(() => limited?.close());

  const row = ROWS[0]!;
  const withValue = (i: number, v: unknown) => row.map((x, j) => (j === i ? v : x));
  const missing = (name: string) => Object.fromEntries(Object.entries(instance(row)).filter(([k]) => k !== name));
  const misspelled = () => ({ ...missing('mean radius'), 'mean radus': 14 });
  const cases: [string, () => unknown, number, Record<string, unknown>][] = [
    ['a row too short', () => ({ inputs: [row, row.slice(0, 29)] }), 400, { code: 'wrong_row_length', row: 1, expected: '30 numbers' }],
    ['a row too long', () => ({ inputs: [[...row, 1]] }), 400, { code: 'wrong_row_length', row: 0 }],
    ['a string', () => ({ inputs: [row, withValue(3, '595.9')] }), 400, { code: 'not_a_number', row: 1, field: 'mean area' }],
    ['a null', () => ({ inputs: [withValue(0, null)] }), 400, { code: 'not_a_number', row: 0, field: 'mean radius' }],
    ['Infinity (1e999 parses to it)', () => `{"inputs": [[${withValue(5, 'INF').join(',').replace('INF', '1e999')}]]}`, 400, { code: 'not_finite', row: 0, field: 'mean compactness' }],
    ['a value past float32', () => ({ inputs: [withValue(2, 1e39)] }), 400, { code: 'not_finite', row: 0, field: 'mean perimeter' }],
    ['NaN (not JSON)', () => `{"inputs": [[${withValue(1, 'NaN').join(',')}]]}`, 400, { code: 'invalid_json' }],
    ['invalid JSON', () => '{"inputs": [[1, 2,', 400, { code: 'invalid_json' }],
    ['a missing field', () => ({ instances: [instance(row), missing('worst area')] }), 400, { code: 'missing_field', row: 1, field: 'worst area' }],
    ['a misspelled field', () => ({ instances: [misspelled()] }), 400, { code: 'unknown_field', row: 0, field: 'mean radus' }],
    ['a string in an instance', () => ({ instances: [{ ...instance(row), 'mean texture': 'high' }] }), 400, { code: 'not_a_number', row: 0, field: 'mean texture' }],
    ['empty inputs', () => ({ inputs: [] }), 400, { code: 'empty_inputs' }],
    ['too many rows', () => ({ inputs: Array(9).fill(row) }), 400, { code: 'too_many_rows', expected: '1 to 8 rows' }],
    ['a body over the size limit', () => ({ inputs: Array(40).fill(row) }), 413, { code: 'body_too_large' }],
    ['no rows at all', () => ({}), 400, { code: 'missing_inputs' }],
    ['both forms', () => ({ inputs: [row], instances: [instance(row)] }), 400, { code: 'both_forms' }],
    ['an unknown top-level field', () => ({ input: [row] }), 400, { code: 'unknown_field', field: 'input' }],
    ['not an object', () => [row], 400, { code: 'not_an_object' }],
    ['a row that is not an array', () => ({ inputs: [5] }), 400, { code: 'row_not_an_array', row: 0 }],
  ];
  test.each(cases)('%s', async (_name, body, status, expected) => {
    const res = await postJson(`${limited.url}/v1/predict`, body());
    expect(res.status).toBe(status);
    expect(res.json).toMatchObject({ statusCode: status, ...expected });
    expect(res.json.message.length).toBeGreaterThan(20);
  });

  test('a body that is not JSON at all', async () => {
    const res = await fetch(`${limited.url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ code: 'unsupported_media_type' });
  });
});

describe('the other endpoints', () => {
  test('GET /healthz', async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: 'ok',
      model: { name: 'breast_cancer.safetensors', backend: 'webgpu', inputSize: 30, outputSize: 2 },
      models: [{ name: 'breast_cancer', version: '1', file: 'breast_cancer.safetensors', backend: 'webgpu', inputSize: 30, outputSize: 2 }],
    });
  });

  test('GET /openapi.json is a valid OpenAPI 3 document with the model\'s sizes and names', async () => {
    const doc = await (await fetch(`${server.url}/openapi.json`)).json();
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    // The validator does catch a broken document (so the check above can fail).
    expect((await new Validator().validate({ ...doc, info: { title: 'no version' } })).valid).toBe(false);
    const body = doc.paths['/v1/predict'].post.requestBody.content['application/json'].schema;
    expect(body.properties.inputs.items).toMatchObject({ minItems: 30, maxItems: 30 });
    expect(Object.keys(body.properties.instances.items.properties)).toEqual(FEATURES);
    const answer = doc.paths['/v1/predict'].post.responses['200'].content['application/json'].schema;
    expect(answer.properties.labels.items.enum).toEqual(['malignant', 'benign']);
    expect(doc.info.description).toContain('30 inputs → 2 outputs');
  });

  test('GET /metrics: requests by status, latency and batch-size histograms, queue depth', async () => {
    await postJson(`${server.url}/v1/predict`, { inputs: [] });
    const res = await fetch(`${server.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    const model = 'model="breast_cancer"';
    expect(text).toMatch(new RegExp(`^resgpu_http_requests_total\\{route="/v1/predict",method="POST",status="200",${model}\\} \\d+`, 'm'));
    expect(text).toMatch(new RegExp(`^resgpu_http_requests_total\\{route="/v1/predict",method="POST",status="400",${model}\\} \\d+`, 'm'));
    expect(text).toMatch(new RegExp(`^resgpu_http_request_duration_seconds_bucket\\{le="0.005",route="/v1/predict",${model}\\} \\d+`, 'm'));
    expect(text).toMatch(new RegExp(`^resgpu_batch_rows_bucket\\{le="256",${model},version="1"\\} \\d+`, 'm'));
    expect(text).toMatch(new RegExp(`^resgpu_queue_depth\\{${model},version="1"\\} 0$`, 'm'));
  });

  test('an unknown route answers 404 in the same error shape', async () => {
    const res = await fetch(`${server.url}/v3/predict`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ statusCode: 404, code: 'not_found' });
  });
});

describe('a model without feature names (the .pt example), one run per request', () => {
  test('takes "inputs", refuses "instances", and matches the CPU reference', async () => {
    const { gpu: ptGpu, cpu: ptCpu } = await loadBoth('breast_cancer.pt');
    const plain = await startServer(ptGpu, { batching: false });
    try {
      const rows = ROWS.slice(0, 10);
      const ok = await postJson(`${plain.url}/v1/predict`, { inputs: rows });
      expect(ok.status).toBe(200);
      expect(ok.json.labels).toBeUndefined();
      expectClose(ok.json.outputs.flat(), (await referenceRows(ptCpu, rows)).flat());
      const refused = await postJson(`${plain.url}/v1/predict`, { instances: rows.map(instance) });
      expect(refused).toMatchObject({ status: 400, json: { code: 'unknown_field', field: 'instances' } });
    } finally {
      await plain.close();
      await ptGpu.dispose();
    }
  });
});
