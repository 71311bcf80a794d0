import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test } from 'vitest';
import { infer } from './oip-client.js';
import { BREAST_CANCER, expectClose, postJson, ROOT, runCli, spawnServer, until } from './helpers.js';

/**
 * The server as users start it: a child process running serve/bin/resgpu-serve.mjs (or
 * bin/resgpu.mjs serve, which hands over to it), on the engine's default backend (WebAssembly
 * here: the only adapter is SwiftShader, a CPU) or the one asked for. Logits are compared with PyTorch's,
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
  const server = await spawnServer(['examples/breast_cancer.pt'], { via: 'resgpu' });
  try {
    const { status, json } = await postJson(`${server.url}/v1/predict`, body);
    expect(status).toBe(200);
    expectClose(json.outputs[0], torchLogits);
  } finally {
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  }
});

test('SIGTERM with 50 requests in flight, /v1 and /v2 (JSON and binary): all answered right, new ones refused, exit 0', async () => {
  // A long batching wait keeps all 50 queued in the server when the signal arrives.
  const server = await spawnServer(['examples/breast_cancer.pt', '--max-wait-us', '1500000']);
  const rows = BREAST_CANCER.inputs.slice(0, 50);
  const inFlight = rows.map((row, i) =>
    i % 3 === 0
      ? postJson(`${server.url}/v1/predict`, { inputs: [row] }).then(({ status, json }) => ({ status, outputs: json.outputs.flat() as number[] }))
      : infer(server.url, 'breast_cancer', { name: 'input', rows: [row], datatype: 'FP32', binary: i % 3 === 2 }),
  );
  await until(async () => /^resgpu_queue_depth\{model="breast_cancer",version="1"\} 50$/m.test(await (await fetch(`${server.url}/metrics`)).text()));
  server.child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 100));
  const late = await fetch(`${server.url}/v2/health/ready`).then((r) => r.status, () => 'refused');
  expect([503, 'refused']).toContain(late);
  const answers = await Promise.all(inFlight);
  answers.forEach(({ status, outputs }, i) => {
    expect(status).toBe(200);
    expectClose(outputs, BREAST_CANCER.torch_logits[i]!);
  });
  expect(await server.exited).toBe(0);
  await expect(fetch(`${server.url}/v2/health/live`)).rejects.toThrow();
  const [, answered, received] = /answered (\d+) of the (\d+) requests received/.exec(server.stdout()) ?? [];
  expect(Number(received)).toBeGreaterThanOrEqual(50);
  expect(answered).toBe(received);
});

test('two models in one process answer independently, each with its own batcher, readiness and metrics', async () => {
  const server = await spawnServer(['cancer=examples/breast_cancer.pt', 'cancer@2=examples/breast_cancer.safetensors', 'cpu_copy=examples/breast_cancer.safetensors', '--backend', 'cpu']);
  try {
    const meta = await (await fetch(`${server.url}/v2/models/cancer`)).json();
    expect(meta).toMatchObject({ name: 'cancer', versions: ['2', '1'], inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 30] }] });
    for (const path of ['cancer', 'cancer/versions/1', 'cancer/versions/2', 'cpu_copy']) {
      expect(await (await fetch(`${server.url}/v2/models/${path}/ready`)).json()).toEqual({ name: path.split('/')[0], ready: true });
    }
    expect((await fetch(`${server.url}/v2/models/cancer/versions/3/ready`)).status).toBe(404);
    const rows = BREAST_CANCER.inputs.slice(0, 8);
    const [v1, v2, copy] = await Promise.all([
      infer(server.url, 'cancer/versions/1', { name: 'input', rows, datatype: 'FP64' }),
      infer(server.url, 'cancer', { name: 'input', rows, datatype: 'FP32', binary: true }),
      postJson(`${server.url}/v1/models/cpu_copy/predict`, { inputs: rows }),
    ]);
    expect(v1.json).toMatchObject({ model_name: 'cancer', model_version: '1' });
    expect(v2.json).toMatchObject({ model_name: 'cancer', model_version: '2' });
    for (const outputs of [v1.outputs, v2.outputs, copy.json.outputs.flat()]) expectClose(outputs, BREAST_CANCER.torch_logits.slice(0, 8).flat());
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^resgpu_batch_rows_count\{model="cancer",version="1"\} 1$/m);
    expect(metrics).toMatch(/^resgpu_batch_rows_count\{model="cancer",version="2"\} 1$/m);
    expect(metrics).toMatch(/^resgpu_batch_rows_count\{model="cpu_copy",version="1"\} 1$/m);
  } finally {
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  }
});

test('a model that cannot load stops the start: the file and the reason are named, exit 3, never ready', async () => {
  const { code, stdout, stderr } = await runCli(['serve', 'examples/breast_cancer.pt', 'broken=README.md', 'missing=nowhere/model.pt', '--port', '0']);
  expect(code).toBe(3);
  expect(stdout).not.toContain('serving');
  expect(stderr).toContain('2 of 3 models could not be loaded; serving none');
  expect(stderr).toMatch(/broken \(README\.md\): Cannot load README\.md: ModelFormatError/);
  expect(stderr).toMatch(/missing \(nowhere\/model\.pt\): .*nowhere\/model\.pt/);
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
