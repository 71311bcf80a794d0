// Micro-benchmark of the WebAssembly gemm kernel alone (src/runtime/wasm/gemm.wat), across its
// knob: `node bench/gemm-kernel.mjs [M K N] [--threads 1]`. One fused step relu(A·W + b) on
// random data, assembled straight from the .wat (as the build does), GFLOP/s per rows-per-
// cache-block setting, settings alternating run by run so machine noise hits all alike.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { assembleVariants } from '../tools/vite-plugin-wat.mjs';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { rounds: { type: 'string', default: '5' } } });
const [M, K, N] = (positionals.length ? positionals : ['256', '1024', '1024']).map(Number);
const file = new URL('../src/runtime/wasm/gemm.wat', import.meta.url);
const variants = await assembleVariants('gemm.wat', readFileSync(file, 'utf8'));
const relaxed = WebAssembly.validate(Buffer.from(variants.relaxed.unshared, 'base64'));
const bytes = Buffer.from(variants[relaxed ? 'relaxed' : 'plain'].unshared, 'base64');

const pad = (n) => Math.ceil(n / 8) * 8;
const panels = pad(N) / 8;
const plan = 64;
const w = 1024;
const bias = w + panels * K * 32;
const a = bias + panels * 32;
const out = a + M * pad(K) * 4;
const end = out + M * pad(N) * 4;
const memory = new WebAssembly.Memory({ initial: Math.ceil(end / 65536), maximum: 65536 });
const { instance } = await WebAssembly.instantiate(bytes, { env: { memory } });
const floats = new Float32Array(memory.buffer);
for (let i = w / 4; i < end / 4; i++) floats[i] = Math.sin(i) * 0.1;
new Int32Array(memory.buffer).set([1, M, panels, a, pad(K) * 4, K, 0, 0, 0, w, bias, out, pad(N) * 4, 0], plan / 4);

const settings = [4, 8, 16, 32, 64, 1 << 20];
const times = settings.map(() => []);
const flops = 2 * M * K * N;
for (let round = 0; round < Number(values.rounds); round++) {
  for (const [i, rows] of settings.entries()) {
    instance.exports.block_rows.value = rows;
    const reps = Math.max(1, Math.round(2e8 / flops));
    const t = performance.now();
    for (let r = 0; r < reps; r++) instance.exports.run(plan, 1, 0, 1, 0);
    times[i].push((performance.now() - t) / reps);
  }
}
console.log(`M=${M} K=${K} N=${N}, ${relaxed ? 'relaxed' : 'plain'} SIMD, one thread`);
for (const [i, rows] of settings.entries()) {
  const best = Math.min(...times[i].slice(1));
  console.log(`rows per block ${rows >= 1 << 20 ? 'all' : rows}: ${(flops / best / 1e6).toFixed(1)} GFLOP/s (best of ${times[i].length - 1} rounds)`);
}
