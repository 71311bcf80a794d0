// Micro-benchmark of the WebAssembly kernels alone (src/runtime/wasm/gemm.wat), assembled straight
// from the .wat (as the build does), on random data, one thread; cases alternate run by run so
// machine noise hits all alike, and each prints its best round.
//   node bench/gemm-kernel.mjs [M K N]                  gemm step relu(A·W + b): GFLOP/s per
//                                                       rows-per-cache-block setting (the knob)
//   node bench/gemm-kernel.mjs [M K N] --activations    gemm step, GFLOP/s per epilogue activation
//   node bench/gemm-kernel.mjs [M K N] --rows           layernorm and elementwise steps on M rows
//                                                       of N features: GB/s (input read + output written)
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { assembleVariants, readModule } from '../tools/vite-plugin-wat.mjs';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: 'string', default: '5' }, activations: { type: 'boolean' }, rows: { type: 'boolean' } },
});
const [M, K, N] = (positionals.length ? positionals : ['256', '1024', '1024']).map(Number);
const { text } = await readModule(fileURLToPath(new URL('../src/runtime/wasm/gemm.wat', import.meta.url)));
const variants = await assembleVariants('gemm.wat', text);
const relaxed = WebAssembly.validate(Buffer.from(variants.relaxed.unshared, 'base64'));
const bytes = Buffer.from(variants[relaxed ? 'relaxed' : 'plain'].unshared, 'base64');

// The descriptor format at the top of gemm.wat (src/runtime/wasm/descriptor.ts is its TypeScript copy).
const KIND = { gemm: 0, layernorm: 1, elementwise: 2 };
const ACTIVATIONS = ['none', 'relu', 'leaky_relu', 'gelu', 'gelu_tanh', 'silu', 'sigmoid', 'tanh'];
const pad = (n) => Math.ceil(n / 8) * 8;
const panels = pad(N) / 8;
const plan = 64;
const w = 1024;
const e = w + panels * K * 32;
const a = e + panels * 96;
const out = a + M * pad(Math.max(K, N)) * 4;
const end = out + M * pad(N) * 4;
const memory = new WebAssembly.Memory({ initial: Math.ceil(end / 65536), maximum: 65536 });
const { instance } = await WebAssembly.instantiate(bytes, { env: { memory } });
const floats = new Float32Array(memory.buffer);
for (let i = w / 4; i < end / 4; i++) floats[i] = Math.sin(i) * 0.1;
const words = new Int32Array(memory.buffer);
function describe(kind, activation, lda) {
  const f32 = new Float32Array([activation === 'leaky_relu' ? 0.01 : 1e-5]);
  const bits = new Int32Array(f32.buffer)[0];
  const k1 = kind === 'layernorm' ? N : K;
  words.set([KIND[kind], M, panels, a, lda, k1, 0, 0, 0, w, e, out, pad(N) * 4, 0, ACTIVATIONS.indexOf(activation), bits, N, bits, 0, 0], plan / 4);
}

/** Best ms per run of each case (`reps` runs timed together), cases taking turns round by round. */
function measure(cases, reps) {
  const times = cases.map(() => []);
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const [i, c] of cases.entries()) {
      c.setup();
      const t = performance.now();
      for (let r = 0; r < reps; r++) instance.exports.run(plan, 1, 0, 1, 0);
      times[i].push((performance.now() - t) / reps);
    }
  }
  return times.map((t) => Math.min(...t.slice(1)));
}

const flops = 2 * M * K * N;
const gemmReps = Math.max(1, Math.round(2e8 / flops));
console.log(`M=${M} K=${K} N=${N}, ${relaxed ? 'relaxed' : 'plain'} SIMD, one thread, best of ${Number(values.rounds) - 1} rounds`);
if (values.rows) {
  const moved = 2 * M * N * 4;
  const cases = ['layernorm', 'elementwise'].flatMap((kind) => ['none', 'relu', 'gelu'].map((act) => ({ kind, act, setup: () => describe(kind, act, pad(N) * 4) })));
  const best = measure(cases, Math.max(1, Math.round(5e7 / moved)));
  for (const [i, c] of cases.entries()) console.log(`${c.kind} + ${c.act}: ${(moved / best[i] / 1e6).toFixed(2)} GB/s`);
} else if (values.activations) {
  const cases = ACTIVATIONS.map((act) => ({ act, setup: () => describe('gemm', act, pad(K) * 4) }));
  const best = measure(cases, gemmReps);
  for (const [i, c] of cases.entries()) console.log(`gemm + ${c.act}: ${(flops / best[i] / 1e6).toFixed(1)} GFLOP/s`);
} else {
  const settings = [4, 8, 16, 32, 64, 1 << 20];
  const cases = settings.map((rows) => ({ setup: () => ((instance.exports.block_rows.value = rows), describe('gemm', 'relu', pad(K) * 4)) }));
  const best = measure(cases, gemmReps);
  for (const [i, rows] of settings.entries()) console.log(`rows per block ${rows >= 1 << 20 ? 'all' : rows}: ${(flops / best[i] / 1e6).toFixed(1)} GFLOP/s`);
}
