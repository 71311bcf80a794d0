// The HTTP load test: `npm run bench:http -- [--model examples/breast_cancer.pt] [--backend webgpu]
//   [--max-wait-us N] [--clients 1,16,200] [--duration 8] [--warmup 2]`.
// Starts `resgpu serve` (the built CLI) twice, with dynamic batching and with one run per
// request, and drives each with autocannon at each client count, every client sending one
// row of the bundled example's test set per request. Prints a markdown table (requests/s,
// p50/p99 latency, requests coalesced per model run, non-2xx answers, and errors and timeouts:
// requests that got no answer), and writes the raw results to bench/results/http-<time>.json.
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'examples/breast_cancer.pt' },
    backend: { type: 'string' },
    'max-wait-us': { type: 'string' },
    clients: { type: 'string', default: '1,16,200' },
    duration: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '2' },
  },
});
const clients = values.clients.split(',').map(Number);
const duration = Number(values.duration);
const warmup = Number(values.warmup);
const test = JSON.parse(readFileSync(join(ROOT, 'examples/breast_cancer.test.json'), 'utf8'));
// Each connection cycles through the test set, one row per request.
const requests = test.inputs.map((row) => ({ body: JSON.stringify({ inputs: [row] }) }));

/** `resgpu serve` in a child process; resolves with its URL once it is listening. */
function startServer(extraArgs) {
  const args = ['bin/resgpu.mjs', 'serve', values.model, '--port', '0', ...extraArgs];
  if (values.backend) args.push('--backend', values.backend);
  if (values['max-wait-us'] && !extraArgs.includes('--no-batching')) args.push('--max-wait-us', values['max-wait-us']);
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const url = /at (http:\/\/[\d.]+:\d+)/.exec(out)?.[1];
      if (url) resolve({ child, url, line: out.trim() });
    });
    child.on('exit', (code) => reject(new Error(`resgpu serve exited with ${code}`)));
  });
}

async function meanBatch(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const sum = Number(/^resgpu_batch_requests_sum(?:\{[^}]*\})? ([\d.e+]+)/m.exec(text)?.[1] ?? 0);
  const count = Number(/^resgpu_batch_requests_count(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? 0);
  return { sum, count };
}

function load(url, connections, seconds) {
  return autocannon({
    url: `${url}/v1/predict`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    requests,
    connections,
    duration: seconds,
    timeout: 30,
  });
}

const results = [];
for (const mode of ['batching', 'one run per request']) {
  const server = await startServer(mode === 'batching' ? [] : ['--no-batching']);
  console.error(server.line);
  for (const c of clients) {
    await load(server.url, c, warmup);
    const batchesBefore = await meanBatch(server.url);
    const r = await load(server.url, c, duration);
    const batchesAfter = await meanBatch(server.url);
    const row = {
      mode,
      clients: c,
      reqPerSec: r.requests.average,
      p50: r.latency.p50,
      p99: r.latency.p99,
      ok: r['2xx'],
      non2xx: r.non2xx,
      errors: r.errors,
      timeouts: r.timeouts,
      requestsPerRun: (batchesAfter.sum - batchesBefore.sum) / Math.max(1, batchesAfter.count - batchesBefore.count),
    };
    results.push(row);
    console.error(`${mode}, ${c} clients: ${row.reqPerSec.toFixed(0)} req/s`);
  }
  server.child.kill('SIGTERM');
  await new Promise((r) => server.child.once('exit', r));
}

const fmt = (x, d = 0) => x.toFixed(d);
console.log(`\nresgpu serve ${values.model}${values.backend ? ` --backend ${values.backend}` : ''}: ` +
  `${duration} s per cell after ${warmup} s of warm-up; ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), autocannon in the same machine\n`);
console.log('| mode | clients | req/s | p50 ms | p99 ms | requests per run | 2xx | non-2xx | errors + timeouts |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of results) {
  console.log(`| ${r.mode} | ${r.clients} | ${fmt(r.reqPerSec)} | ${r.p50} | ${r.p99} | ${fmt(r.requestsPerRun, 1)} | ${r.ok} | ${r.non2xx} | ${r.errors + r.timeouts} |`);
}
for (const c of clients) {
  const on = results.find((r) => r.mode === 'batching' && r.clients === c);
  const off = results.find((r) => r.mode !== 'batching' && r.clients === c);
  console.log(`\n${c} clients: batching gives ${(on.reqPerSec / off.reqPerSec).toFixed(2)}× the requests/s of one run per request`);
}
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
const file = join(ROOT, `bench/results/http-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ model: values.model, backend: values.backend ?? null, duration, results }, null, 2));
console.log(`\nraw results: ${file}`);
