// Load and soak: the figures issue 11 asks for, measured by a script rather than timed tests.
//   npm run soak     (builds, then: node --expose-gc bench/soak.mjs [--runs 10000] [--cycles 100] [--shared-cycles 8000])
// On one model (the bundled breast-cancer example, 30 → 2) and a device shared by every step:
//  1. 200 concurrent runs of mixed batch sizes (1 to 256), each checked against the float64
//     reference (|gpu − ref| ≤ 1e-4 · max(1, |ref|), the tolerance of test/helpers/compare.ts);
//  2. `runs` sequential runs over four batch sizes: JS heap (after gc) and live GPU buffers at the
//     first tenth and at the end, which must not grow;
//  3. `cycles` load/dispose cycles on a device resgpu owns, and `shared-cycles` on the shared
//     device (the device.lost leak: a disposed model must not stay reachable from its device).
// Exits non-zero when a check fails. On SwiftShader every figure is a CPU figure.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

if (!global.gc) throw new Error('run with node --expose-gc (npm run soak does)');
const { values } = parseArgs({
  options: { runs: { type: 'string', default: '10000' }, cycles: { type: 'string', default: '100' }, 'shared-cycles': { type: 'string', default: '8000' } },
});
const { loadModel } = await import('../dist/resgpu.js');
const { nodeGpu } = await import('../dist/node.js');

const bytes = new Uint8Array(readFileSync(new URL('../examples/breast_cancer.safetensors', import.meta.url)));
const gpu = await nodeGpu();
const adapter = await gpu.requestAdapter();
console.log(`adapter: ${adapter.info.vendor} ${adapter.info.architecture} ${adapter.info.description}`);
const device = await adapter.requestDevice({
  requiredLimits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize, maxBufferSize: adapter.limits.maxBufferSize },
});
// Live GPU buffers on the shared device: created and not yet destroyed.
const live = new Set();
const createBuffer = device.createBuffer.bind(device);
device.createBuffer = (d) => {
  const b = createBuffer(d);
  live.add(b);
  const destroy = b.destroy.bind(b);
  b.destroy = () => (live.delete(b), destroy());
  return b;
};

const MiB = (b) => (b / 2 ** 20).toFixed(1);
const heap = () => (global.gc(), global.gc(), process.memoryUsage().heapUsed);
const input = (batch, seed) => Float32Array.from({ length: batch * 30 }, (_, i) => Math.sin(seed * 1000 + i) * 2);
const failures = [];
const check = (ok, what) => (ok ? undefined : failures.push(what));
function close(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < b.length; i++) if (!(Math.abs(a[i] - b[i]) <= 1e-4 * Math.max(1, Math.abs(b[i])))) return false;
  return true;
}

const reference = await loadModel(bytes, { backend: 'cpu' });
const model = await loadModel(bytes, { device });

// 1. Concurrency.
{
  const batches = Array.from({ length: 200 }, (_, i) => 1 + ((i * 37) % 256));
  const t = performance.now();
  const results = await Promise.all(batches.map((b, i) => model.run(input(b, i))));
  const ms = performance.now() - t;
  let right = 0;
  for (const [i, y] of results.entries()) if (close(y, await reference.run(input(batches[i], i)))) right++;
  console.log(`concurrent: 200 runs of batch 1..256 at once: ${right}/200 right, ${ms.toFixed(0)} ms in all`);
  check(right === 200, 'concurrent runs not all right');
}

// 2. Sequential soak.
if (Number(values.runs) > 0) {
  const runs = Number(values.runs);
  const sizes = [1, 7, 64, 256];
  const inputs = sizes.map((b) => input(b, b));
  const expected = await Promise.all(sizes.map((b, i) => reference.run(inputs[i])));
  let wrong = 0;
  let early;
  const t = performance.now();
  for (let i = 0; i < runs; i++) {
    const k = i % sizes.length;
    const y = await model.run(inputs[k]);
    if (i % 97 === 0 && !close(y, expected[k])) wrong++;
    if (i === Math.floor(runs / 10)) early = { heap: heap(), buffers: live.size };
  }
  const ms = performance.now() - t;
  const end = { heap: heap(), buffers: live.size };
  console.log(
    `sequential: ${runs} runs (batches ${sizes.join('/')}) in ${(ms / 1000).toFixed(1)} s (${((ms / runs) * 1000).toFixed(0)} µs/run); ` +
      `JS heap ${MiB(early.heap)} → ${MiB(end.heap)} MiB, live GPU buffers ${early.buffers} → ${end.buffers}; ${wrong} sampled runs wrong`,
  );
  check(wrong === 0, 'sequential runs wrong');
  check(end.buffers <= early.buffers, 'GPU buffers grew during the soak');
  check(end.heap - early.heap < 8 * 2 ** 20, 'JS heap grew by 8 MiB or more during the soak');
}
await model.dispose();
check(live.size === 0, `dispose left ${live.size} GPU buffers`);

// 3. Load/dispose cycles: on devices resgpu owns, then on the shared device.
async function cycles(n, options, label) {
  if (n === 0) return;
  const x = input(4, 1);
  let at10;
  const t = performance.now();
  for (let i = 1; i <= n; i++) {
    const m = await loadModel(bytes, options);
    await m.run(x);
    await m.dispose();
    if (i === Math.max(10, Math.floor(n / 16))) at10 = { heap: heap(), rss: process.memoryUsage().rss, buffers: live.size, i };
  }
  const end = { heap: heap(), rss: process.memoryUsage().rss, buffers: live.size };
  console.log(
    `${label}: ${n} load/run/dispose cycles in ${((performance.now() - t) / 1000).toFixed(1)} s; after ${at10.i} → after ${n}: ` +
      `JS heap ${MiB(at10.heap)} → ${MiB(end.heap)} MiB, RSS ${MiB(at10.rss)} → ${MiB(end.rss)} MiB, live GPU buffers ${at10.buffers} → ${end.buffers}`,
  );
  check(end.heap - at10.heap < 2 * 2 ** 20, `${label}: JS heap grew by 2 MiB or more`); // a reaction per load on the shared device.lost grew it by 3.8 MiB
  check(end.buffers === 0, `${label}: GPU buffers left`);
}
await cycles(Number(values.cycles), { gpu }, 'owned devices');
await cycles(Number(values['shared-cycles']), { device }, 'shared device');

console.log(failures.length === 0 ? 'soak: all checks passed' : `soak: FAILED: ${failures.join('; ')}`);
process.exit(failures.length === 0 ? 0 : 1);
