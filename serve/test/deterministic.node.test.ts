import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadModel } from 'resgpu';
import { example, startServer } from './helpers.js';

/**
 * Behind dynamic batching a row's answer must not depend on the traffic around it: 200
 * concurrent clients, each sending the same row among random others at a random position, get
 * the same bits back every time (a seeded, compressed version of an hour of traffic).
 */
let server: Awaited<ReturnType<typeof startServer>>;
let width = 0;
beforeAll(async () => {
  const model = await loadModel(example('breast_cancer.safetensors'), { backend: 'wasm', deterministic: true });
  width = model.inputSize;
  server = await startServer([{ name: 'bc', version: '1', file: 'breast_cancer.safetensors', model }], { batching: true, maxWaitUs: 2000 });
});
afterAll(async () => {
  await server?.close();
});

/** mulberry32, seeded: the same traffic every run. */
function random(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('200 concurrent clients sending the same row among random others get the same bits every time', async () => {
  const r = random(20261202);
  const row = Array.from({ length: width }, () => r() * 20);
  const asked = Array.from({ length: 200 }, () => {
    const rows = 1 + Math.floor(r() * 8);
    const at = Math.floor(r() * rows);
    const data = Array.from({ length: rows }, (_, i) => (i === at ? row : Array.from({ length: width }, () => r() * 20)));
    return { at, data };
  });
  const answers = await Promise.all(
    asked.map(async ({ at, data }) => {
      const res = await fetch(`${server.url}/v2/models/bc/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'input', shape: [data.length, width], datatype: 'FP32', data }] }),
      });
      expect(res.status).toBe(200);
      const { outputs } = (await res.json()) as { outputs: { data: number[]; shape: number[] }[] };
      const cols = outputs[0]!.shape[1]!;
      return outputs[0]!.data.slice(at * cols, (at + 1) * cols);
    }),
  );
  const distinct = new Set(answers.map((a) => a.map((v) => Math.fround(v)).join(',')));
  expect(distinct.size).toBe(1);
});
