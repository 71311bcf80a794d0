// The HTTP load test: `npm run bench:http -- [--model examples/breast_cancer.pt] [--backend webgpu]
//   [--endpoints v2,v2-binary,v1] [--max-wait-us N] [--max-batch N] [--clients 1,16,200] [--duration 8]
//   [--warmup 2] [--timeout 30] [--no-drain]`.
// Starts resgpu-serve (the built serve/bin) twice, with dynamic batching and with one run per
// request, and drives each with autocannon at each client count and endpoint, every client
// sending one row of the bundled example's test set per request:
//   v2         POST /v2/models/NAME/infer, the Open Inference Protocol in JSON
//   v2-binary  the same with the binary tensor data extension, both ways
//   v1         POST /v1/predict, resgpu's own JSON API
// Prints a markdown table (requests/s, p50/p99 latency, rows per model run, non-2xx answers, and
// lost requests: errors and timeouts, requests that got no answer), then drains under load: 200
// clients on /v2, SIGTERM, and every request the server received must be answered, the process
// exiting 0. Raw results go to bench/results/http-<time>.json.
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'examples/breast_cancer.pt' },
    backend: { type: 'string' },
    endpoints: { type: 'string', default: 'v2,v2-binary,v1' },
    'max-wait-us': { type: 'string' },
    'max-batch': { type: 'string' },
    clients: { type: 'string', default: '1,16,200' },
    duration: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '2' },
    timeout: { type: 'string', default: '30' },
    'no-drain': { type: 'boolean' },
  },
});
const clients = values.clients.split(',').map(Number);
const endpoints = values.endpoints.split(',');
const duration = Number(values.duration);
const warmup = Number(values.warmup);
const NAME = basename(values.model, extname(values.model));
const test = JSON.parse(readFileSync(join(ROOT, 'examples/breast_cancer.test.json'), 'utf8'));

/**
 * One request per test row, in the endpoint's form; the input's name and row shape come from the
 * model's metadata. The bundled example's test rows where they fit; for another model (an image
 * ResNet, say), 32 rows of a fixed pseudo-random sequence in [-2, 2].
 */
function requestsFor(endpoint, { name: inputName, shape }) {
  const rowShape = shape.slice(1);
  const width = rowShape.reduce((a, b) => a * b, 1);
  const rows = width === test.inputs[0].length ? test.inputs : Array.from({ length: 32 }, (_, r) => Array.from({ length: width }, (_, i) => Math.sin(r * 7919 + i) * 2));
  return rows.map((row) => {
    if (endpoint === 'v1') return { method: 'POST', path: '/v1/predict', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: [row] }) };
    const tensor = { name: inputName, shape: [1, ...rowShape], datatype: 'FP32' };
    const path = `/v2/models/${NAME}/infer`;
    if (endpoint === 'v2') return { method: 'POST', path, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: [{ ...tensor, data: row }] }) };
    const json = Buffer.from(JSON.stringify({ inputs: [{ ...tensor, parameters: { binary_data_size: 4 * row.length } }], parameters: { binary_data_output: true } }));
    const data = Buffer.from(Float32Array.from(row).buffer);
    return { method: 'POST', path, headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(json.length) }, body: Buffer.concat([json, data]) };
  });
}

/** resgpu-serve in a child process; resolves with its URL once it is listening. */
function startServer(extraArgs) {
  const args = ['serve/bin/resgpu-serve.mjs', values.model, '--port', '0', ...extraArgs];
  if (values.backend) args.push('--backend', values.backend);
  if (values['max-wait-us'] && !extraArgs.includes('--no-batching')) args.push('--max-wait-us', values['max-wait-us']);
  if (values['max-batch'] && !extraArgs.includes('--no-batching')) args.push('--max-batch', values['max-batch']);
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', () => {
      const url = /at (http:\/\/[\d.]+:\d+)/.exec(out)?.[1];
      if (url) resolve({ child, url, exited, line: out.trim(), output: () => out });
    });
    void exited.then((code) => reject(new Error(`resgpu-serve exited with ${code}`)));
  });
}

async function batchStats(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name) => Number(new RegExp(`^${name}\\{model="${NAME}"[^}]*\\} ([\\d.e+]+)`, 'm').exec(text)?.[1] ?? 0);
  return { rows: value('resgpu_batch_rows_sum'), requests: value('resgpu_batch_requests_sum'), runs: value('resgpu_batch_rows_count') };
}

const load = (url, requests, connections, seconds) => autocannon({ url, requests, connections, duration: seconds, timeout: Number(values.timeout) });

/**
 * After the warm-up: one request, answered once the server has finished what the warm-up left
 * (its clients are gone, but a run already started still runs), so that a cell measures its own
 * requests only. Without it, an image model's cell began behind seconds of the warm-up's runs.
 */
async function settle(url, request) {
  const started = performance.now();
  const res = await fetch(`${url}${request.path}`, { method: request.method, headers: request.headers, body: request.body });
  await res.arrayBuffer();
  return performance.now() - started;
}

const results = [];
for (const mode of ['batching', 'one run per request']) {
  const server = await startServer(mode === 'batching' ? [] : ['--no-batching']);
  console.error(server.line);
  const input = (await (await fetch(`${server.url}/v2/models/${NAME}`)).json()).inputs[0];
  for (const endpoint of endpoints) {
    const requests = requestsFor(endpoint, input);
    for (const c of clients) {
      await load(server.url, requests, c, warmup);
      const settled = await settle(server.url, requests[0]);
      const before = await batchStats(server.url);
      const r = await load(server.url, requests, c, duration);
      const after = await batchStats(server.url);
      const runs = Math.max(1, after.runs - before.runs);
      const row = {
        mode, endpoint, clients: c, reqPerSec: r.requests.average, p50: r.latency.p50, p99: r.latency.p99,
        ok: r['2xx'], non2xx: r.non2xx, lost: r.errors + r.timeouts,
        rowsPerRun: (after.rows - before.rows) / runs, requestsPerRun: (after.requests - before.requests) / runs, settledMs: settled,
      };
      results.push(row);
      console.error(`${mode}, ${endpoint}, ${c} clients: ${row.reqPerSec.toFixed(0)} req/s`);
    }
  }
  server.child.kill('SIGTERM');
  await server.exited;
}

/**
 * 200 clients on /v2 in a loop; SIGTERM after a second of it. Every request the server received
 * must be answered: the server says how many it received and answered when it stops, and no
 * client may see anything but 200 or 503 (closing) from it. Requests it never received (refused
 * at connect, or sent on a kept-alive connection it closed as idle) are counted apart.
 */
async function drainUnderLoad() {
  const server = await startServer([]);
  const input = (await (await fetch(`${server.url}/v2/models/${NAME}`)).json()).inputs[0];
  const [request] = requestsFor('v2', input);
  const tally = { ok: 0, unavailable: 0, refused: 0, closed: 0, other: 0, why: {} };
  let stop = false;
  const client = async () => {
    while (!stop) {
      try {
        const res = await fetch(`${server.url}${request.path}`, { method: 'POST', headers: request.headers, body: request.body });
        await res.arrayBuffer();
        if (res.status === 200) tally.ok++;
        else if (res.status === 503) tally.unavailable++;
        else tally.other++;
      } catch (e) {
        if (e.cause?.code === 'ECONNREFUSED') {
          tally.refused++;
          return; // the server is gone: this client stops
        }
        tally.closed++;
        const why = `${e.cause?.code ?? ''} ${e.cause?.message ?? e.message}`.trim();
        tally.why[why] = (tally.why[why] ?? 0) + 1;
      }
    }
  };
  const running = Array.from({ length: 200 }, client);
  await new Promise((r) => setTimeout(r, 1000));
  server.child.kill('SIGTERM');
  const code = await server.exited;
  stop = true;
  await Promise.all(running);
  const [, answered, received] = /answered (\d+) of the (\d+) requests received/.exec(server.output()) ?? [];
  return { exitCode: code, received: Number(received), answered: Number(answered), lost: Number(received) - Number(answered), ...tally };
}
const drain = values['no-drain'] ? null : await drainUnderLoad();

const fmt = (x, d = 0) => x.toFixed(d);
console.log(`\nresgpu-serve ${values.model}${values.backend ? ` --backend ${values.backend}` : ''}${values['max-batch'] ? ` --max-batch ${values['max-batch']}` : ''}: ` +
  `${duration} s per cell after ${warmup} s of warm-up and the runs it left; client timeout ${values.timeout} s; ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), autocannon in the same machine\n`);
console.log('| mode | endpoint | clients | req/s | p50 ms | p99 ms | rows per run | 2xx | non-2xx | lost |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of results) {
  console.log(`| ${r.mode} | ${r.endpoint} | ${r.clients} | ${fmt(r.reqPerSec)} | ${r.p50} | ${r.p99} | ${fmt(r.rowsPerRun, 1)} | ${r.ok} | ${r.non2xx} | ${r.lost} |`);
}
for (const endpoint of endpoints) {
  for (const c of clients) {
    const on = results.find((r) => r.mode === 'batching' && r.endpoint === endpoint && r.clients === c);
    const off = results.find((r) => r.mode !== 'batching' && r.endpoint === endpoint && r.clients === c);
    console.log(`${endpoint}, ${c} clients: batching gives ${(on.reqPerSec / off.reqPerSec).toFixed(2)}× the requests/s of one run per request`);
  }
}
if (drain) {
  console.log(`\nSIGTERM under load (200 clients on /v2, 1 s in): exit code ${drain.exitCode}; the server received ${drain.received} requests ` +
    `and answered ${drain.answered} (lost: ${drain.lost}). Clients saw 200: ${drain.ok}, 503 while closing: ${drain.unavailable}, other statuses: ${drain.other}; ` +
    `never received: ${drain.refused} refused at connect, ${drain.closed} on a kept-alive connection closed as idle${drain.closed ? ` (${Object.keys(drain.why).join(', ')})` : ''}`);
}
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
const file = join(ROOT, `bench/results/http-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ model: values.model, backend: values.backend ?? null, duration, results, drain }, null, 2));
console.log(`\nraw results: ${file}`);
const failed = results.some((r) => r.non2xx || r.lost) || (drain && (drain.exitCode !== 0 || drain.lost || drain.other));
process.exit(failed ? 1 : 0);
