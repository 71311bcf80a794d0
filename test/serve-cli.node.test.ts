import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test } from 'vitest';
import { expectClose } from './helpers/compare.js';
import { BREAST_CANCER, postJson, ROOT, spawnServer } from './helpers/serve.js';

/**
 * `resgpu serve` as users start it: a child process running bin/resgpu.mjs, on the engine's
 * default backend (WebGPU: Dawn on SwiftShader here). Logits are compared with PyTorch's,
 * recorded when the example was trained, within 1e-4 · max(1, |ref|): f32 on both sides,
 * summed in different orders, with BatchNorm folded on ours (see helpers/compare.ts).
 */

/** The JSON body of the README's curl example, and PyTorch's logits for its row. */
function readmeExample(): { body: { inputs: number[][] }; torchLogits: number[] } {
  const readme = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Serve it as an API'));
  const json = /-d '(\{"inputs".*?\})'/s.exec(section)?.[1];
  expect(json, 'the README has a curl example with "inputs" in "Serve it as an API"').toBeDefined();
  const body = JSON.parse(json!) as { inputs: number[][] };
  const index = BREAST_CANCER.inputs.findIndex((row) => row.every((v, i) => v === body.inputs[0]![i]));
  expect(index, 'the README example row is a row of examples/breast_cancer.test.json').toBeGreaterThanOrEqual(0);
  return { body, torchLogits: BREAST_CANCER.torch_logits[index]! };
}

test('npx resgpu serve examples/breast_cancer.pt answers the README curl example with PyTorch\'s logits', async () => {
  const { body, torchLogits } = readmeExample();
  const server = await spawnServer(['examples/breast_cancer.pt']);
  try {
    const { status, json } = await postJson(`${server.url}/v1/predict`, body);
    expect(status).toBe(200);
    expectClose(json.outputs[0], torchLogits);
  } finally {
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  }
});

test('SIGTERM with 50 requests in flight: all 50 answered right, new ones refused, exit 0', async () => {
  // A long batching wait keeps all 50 queued in the server when the signal arrives.
  const server = await spawnServer(['examples/breast_cancer.pt', '--max-wait-us', '1500000']);
  const rows = BREAST_CANCER.inputs.slice(0, 50);
  const inFlight = rows.map((row) => postJson(`${server.url}/v1/predict`, { inputs: [row] }));
  await until(async () => /^resgpu_queue_depth 50$/m.test(await (await fetch(`${server.url}/metrics`)).text()));
  server.child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 100));
  const late = await fetch(`${server.url}/healthz`).then((r) => r.status, () => 'refused');
  expect([503, 'refused']).toContain(late);
  const answers = await Promise.all(inFlight);
  answers.forEach(({ status, json }, i) => {
    expect(status).toBe(200);
    expectClose(json.outputs[0], BREAST_CANCER.torch_logits[i]!);
  });
  expect(await server.exited).toBe(0);
  await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
});

test('--workers 2 shares the port between two processes and stops them both on SIGTERM', async () => {
  const server = await spawnServer(['examples/breast_cancer.safetensors', '--workers', '2', '--backend', 'cpu']);
  try {
    const answers = await Promise.all(BREAST_CANCER.inputs.slice(0, 20).map((row) => postJson(`${server.url}/v1/predict`, { inputs: [row] })));
    answers.forEach(({ status, json }, i) => {
      expect(status).toBe(200);
      expectClose(json.outputs[0], BREAST_CANCER.torch_logits[i]!);
    });
    expect(await (await fetch(`${server.url}/metrics`)).text()).toMatch(/worker="[12]"/);
  } finally {
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  }
});

async function until(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error('timed out waiting for the server');
    await new Promise((r) => setTimeout(r, 20));
  }
}
