// The README's demo: the bundled breast-cancer classifier, as torch.save wrote it (trained by
// tools/train_example.py), loaded the way an app loads it, with the engine's default backend
// choice; it says where the model ran and why, checks the outputs against PyTorch's, and times,
// side by side in this process, resgpu's default, resgpu on WebGPU, onnxruntime-web's WASM
// backend and the float64 CPU reference. Run it with `npm run demo`.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-web';
import { makeModels, MODELS_DIR } from '../bench/server.mjs';
import { loadModel } from '../dist/resgpu.js';
import { nodeGpu } from '../dist/node.js'; // Dawn; SwiftShader when no GPU driver is configured

const file = process.argv[2] ?? new URL('../examples/breast_cancer.pt', import.meta.url).pathname;
const test = JSON.parse(readFileSync(new URL('../examples/breast_cancer.test.json', import.meta.url), 'utf8'));
const bytes = readFileSync(file);
const rows = test.inputs.length;
const x = Float32Array.from(test.inputs.flat());

// Node has no navigator.gpu; give it Dawn's, as a browser would have one, so that the default
// backend ('auto') decides as it does in a browser: WebGPU on a hardware adapter, else WebAssembly.
let gpu = null;
try {
  gpu = await nodeGpu();
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
} catch (e) {
  console.log(`(no WebGPU in this Node: ${e.message.split('\n')[0]})`);
}

const t0 = performance.now();
const model = await loadModel(bytes); // the default: what an app gets with no options
const loadMs = performance.now() - t0;
const webgpu = gpu ? await loadModel(bytes, { backend: 'webgpu' }).catch(() => null) : null;
const reference = await loadModel(bytes, { backend: 'cpu' });
const adapter = webgpu?.describe().adapter;
const adapterName = adapter ? [adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(' ') : null;

console.log(`resgpu demo: ${file}`);
if (model.backend === 'webgpu') {
  console.log(`ran on: WebGPU, on ${adapterName} (a hardware adapter: the default takes the GPU)`);
} else {
  const why = !gpu ? 'there is no WebGPU here'
    : !adapter ? 'WebGPU offers no adapter here'
    : adapter.software ? `the only WebGPU adapter is ${adapterName}, a software one (a CPU pretending to be a GPU), where WebAssembly is faster on the same cores`
    : 'the default chose the CPU';
  console.log(`ran on: ${model.backend === 'wasm' ? 'WebAssembly SIMD' : model.backend} (${availableParallelism()} cores here), because ${why}`);
}
const info = model.describe({ batch: rows });
console.log(`model: ${info.inputSize} → ${info.outputSize}, ${info.layers.length} layers, loaded in ${loadMs.toFixed(0)} ms`);

const y = await model.run(x);
const argmax = (v, r) => (v[2 * r + 1] > v[2 * r] ? 1 : 0);
let correct = 0;
let agree = 0;
for (let r = 0; r < rows; r++) {
  if (argmax(y, r) === test.labels[r]) correct++;
  if (argmax(y, r) === argmax(test.torch_logits[r], 0)) agree++;
}
const maxDiff = (out) => Math.max(...test.torch_logits.flat().map((t, i) => Math.abs(out[i] - t)));
console.log(`\ntest set: ${rows} samples of ${test.description.split(';')[0]}`);
console.log(`accuracy: ${(100 * correct / rows).toFixed(2)}% (${correct}/${rows})`);
console.log(`agreement with PyTorch ${test.torch_version}: ${agree}/${rows} predictions, max |logit difference| ${maxDiff(y).toExponential(2)}`);

// onnxruntime-web's WASM backend on the same network, exported to ONNX by PyTorch
// (bench/make_model.py), on as many threads as resgpu's default (the cores, at most 4).
let session = null;
try {
  makeModels(['breast_cancer']);
  ort.env.wasm.numThreads = Math.min(availableParallelism(), 4);
  session = await ort.InferenceSession.create(join(MODELS_DIR, 'breast_cancer.onnx'), { executionProviders: ['wasm'] });
} catch (e) {
  console.log(`(onnxruntime-web left out: ${e.message.split('\n')[0]})`);
}
const ortRun = async (input) => {
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input, [input.length / 30, 30]) });
  return out[session.outputNames[0]].data;
};

const contenders = [
  { name: `resgpu default (${model.backend})`, run: (input) => model.run(input) },
  ...(webgpu && model.backend !== 'webgpu' ? [{ name: `resgpu WebGPU${adapter?.software ? ' (SwiftShader: a CPU)' : ''}`, run: (input) => webgpu.run(input) }] : []),
  ...(session ? [{ name: 'onnxruntime-web WASM', run: ortRun }] : []),
  { name: 'float64 reference (CPU)', run: (input) => reference.run(input) },
];

/** Median of `runs` timings per contender, contenders taking turns so machine noise hits all alike. */
async function medians(input, runs) {
  for (const c of contenders) for (let i = 0; i < 5; i++) await c.run(input);
  const times = contenders.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (const [j, c] of contenders.entries()) {
      const t = performance.now();
      await c.run(input);
      times[j].push(performance.now() - t);
    }
  }
  return times.map((t) => t.sort((a, b) => a - b)[runs >> 1]);
}

const batches = [1, rows];
const timed = [];
for (const batch of batches) timed.push(await medians(x.subarray(0, batch * 30), 30));
const diffs = await Promise.all(contenders.map(async (c) => maxDiff(await c.run(x))));
console.log('\nlatency, median of 30 runs (input in, outputs out), all in this process; ratio = time ÷ resgpu default\'s:');
console.log(`| contender | ${batches.map((b) => `batch ${b} ms | ratio`).join(' | ')} | max abs diff from PyTorch |`);
console.log(`|---|${batches.map(() => '---:|---:').join('|')}|---:|`);
for (const [j, c] of contenders.entries()) {
  const cells = batches.map((_, b) => `${timed[b][j].toFixed(3)} | ${(timed[b][j] / timed[b][0]).toFixed(2)}×`);
  console.log(`| ${c.name} | ${cells.join(' | ')} | ${diffs[j].toExponential(1)} |`);
}

await Promise.all([model.dispose(), webgpu?.dispose(), reference.dispose(), session?.release()]);
const ok = agree === rows;
if (!ok) console.error('resgpu disagrees with PyTorch: this is a bug.');
process.exit(ok ? 0 : 1);
