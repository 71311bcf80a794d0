// Image ResNets in Node on Dawn (after `npm run build`):
//   node bench/image-node.mjs [--models resnet18_64,resnet18,resnet50] [--batches 1,8]
//        [--iterations 5] [--warmup 1] [--precision f32] [--ort wasm] [--ort-threads 1]
// The presets are bench/make_model.py's torchvision ResNets (random weights, randomized
// BatchNorm statistics), made on demand into bench/models. resgpu loads each .pt on WebGPU with
// the meta's input shape; `--ort wasm` also runs onnxruntime-web's WASM backend (its Node build)
// on the .onnx for scale, and `--ort none` leaves it out. `--ort webgpu` tries its WebGPU backend
// through the same Dawn: with onnxruntime-web 1.30 and the 'webgpu' package here, creating the
// session crashes the process (SIGSEGV, checked 2026-12 on resnet18_64), so ORT's WebGPU backend is
// measured on the page only. Per model and batch: the median end-to-end time (input upload
// to output read back) with its min–max, GFLOP/s from the meta's conv + linear FLOPs, resgpu's
// dispatches and GPU memory, and the largest difference between resgpu's and ORT's outputs.
// On a software adapter (SwiftShader) every figure is a CPU figure, and the output says so.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { IMAGE_PRESETS, makeModels, MODELS_DIR, readMeta } from './server.mjs';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'resnet18_64' },
    batches: { type: 'string', default: '1,8' },
    iterations: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    precision: { type: 'string', default: 'f32' },
    ort: { type: 'string', default: 'wasm' },
    'ort-threads': { type: 'string', default: '1' },
  },
});
const list = (s) => s.split(',').filter((v) => v && v !== 'none');
const models = list(values.models);
const unknown = models.filter((m) => !IMAGE_PRESETS.includes(m));
if (unknown.length) throw new Error(`not image presets: ${unknown.join(', ')} (known: ${IMAGE_PRESETS.join(', ')})`);
const batches = list(values.batches).map(Number);
const [iterations, warmup] = [Number(values.iterations), Number(values.warmup)];
const ortProviders = list(values.ort);

makeModels(models);
const { loadModel } = await import('../dist/resgpu.js');
const { nodeGpu } = await import('../dist/node.js');
const gpu = await nodeGpu();
const adapter = await gpu.requestAdapter();
const software = /swiftshader|llvmpipe/i.test(`${adapter.info.architecture} ${adapter.info.description}`);
console.log(`adapter: ${adapter.info.vendor} ${adapter.info.architecture} ${adapter.info.description}${software ? ' (SwiftShader: a CPU; every figure is a CPU figure)' : ''}`);

let ort = null;
if (ortProviders.length) {
  // Its Node build has no WebGPU backend; the browser bundle with it runs in Node too (WASM inlined).
  ort = await import(ortProviders.includes('webgpu') ? 'onnxruntime-web/webgpu' : 'onnxruntime-web');
  ort.env.wasm.numThreads = Number(values['ort-threads']);
  // ORT's WebGPU backend asks navigator.gpu for its adapter: give it the same Dawn.
  if (ortProviders.includes('webgpu')) {
    globalThis.navigator ??= {};
    if (!navigator.gpu) Object.defineProperty(navigator, 'gpu', { value: gpu, configurable: true });
  }
}

const input = (rows, width) => Float32Array.from({ length: rows * width }, (_, i) => Math.sin(i * 0.37) * 2);

/** Warm-up runs, then timed runs: sorted times in ms, and the first output. */
async function time(run, x) {
  const y = await run(x);
  for (let i = 1; i < warmup; i++) await run(x);
  const times = [];
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    await run(x);
    times.push(performance.now() - t);
  }
  return { times: times.sort((a, b) => a - b), y };
}

const maxDiff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]) / Math.max(1, Math.abs(b[i]))), 0);
const cell = (t) => `${t[t.length >> 1].toFixed(1)} [${t[0].toFixed(1)}–${t.at(-1).toFixed(1)}]`;

const rows = [];
for (const name of models) {
  const meta = readMeta(name);
  const model = await loadModel(readFileSync(join(MODELS_DIR, meta.resgpu)), { backend: 'webgpu', gpu, inputShape: meta.input_shape, precision: values.precision });
  const sessions = [];
  for (const provider of ortProviders) {
    try {
      // Bytes, not a path: the WebGPU bundle would fetch() a path, which Node's fetch refuses.
      const bytes = new Uint8Array(readFileSync(join(MODELS_DIR, meta.onnx)));
      sessions.push({ provider, session: await ort.InferenceSession.create(bytes, { executionProviders: [provider] }) });
    } catch (e) {
      sessions.push({ provider, error: `did not load: ${e.message.split('\n')[0].slice(0, 120)}` });
    }
  }
  for (const batch of batches) {
    const x = input(batch, meta.input_size);
    const d = model.describe({ batch });
    const ours = await time((v) => model.run(v), x);
    const peers = [];
    for (const s of sessions) {
      if (s.error) {
        peers.push({ provider: s.provider, text: s.error });
        continue;
      }
      try {
        const run = async (v) => (await s.session.run({ [s.session.inputNames[0]]: new ort.Tensor('float32', v, [batch, ...meta.input_shape]) }))[s.session.outputNames[0]].data;
        const r = await time(run, x);
        const ratio = r.times[r.times.length >> 1] / ours.times[ours.times.length >> 1];
        peers.push({ provider: s.provider, text: `${cell(r.times)} (${ratio.toFixed(2)}× resgpu; max diff ${maxDiff(ours.y, r.y).toExponential(1)})` });
      } catch (e) {
        peers.push({ provider: s.provider, text: `did not run: ${e.message.split('\n')[0].slice(0, 120)}` });
      }
    }
    const median = ours.times[ours.times.length >> 1];
    rows.push({
      name, shape: meta.input_shape.join('×'), batch, ours: cell(ours.times), gflops: ((meta.flops_per_row * batch) / (median * 1e6)).toFixed(2),
      dispatches: d.dispatches.length, memory: `${(d.gpuBytes.weights / 2 ** 20).toFixed(1)} + ${(d.gpuBytes.activations / 2 ** 20).toFixed(1)}`, peers,
    });
    console.error(`${name} batch ${batch} done`);
  }
  await model.dispose();
  for (const s of sessions) await s.session?.release();
}

const peerNames = ortProviders.map((p) => `onnxruntime-web ${p === 'wasm' ? `WASM, ${values['ort-threads']} thread(s)` : 'WebGPU'} ms`);
console.log(`\n| model | input | batch | resgpu WebGPU ms median [min–max] | GFLOP/s | dispatches | GPU MiB (weights + activations) | ${peerNames.join(' | ')} |`);
console.log(`|---|---|---:|---:|---:|---:|---:|${peerNames.map(() => '---:|').join('')}`);
for (const r of rows) {
  console.log(`| ${r.name} | ${r.shape} | ${r.batch} | ${r.ours} | ${r.gflops} | ${r.dispatches} | ${r.memory} | ${r.peers.map((p) => p.text).join(' | ')} |`);
}
console.log(`\n${iterations} timed runs after ${warmup} warm-up run(s); precision ${values.precision}.${software ? ' SwiftShader: a CPU.' : ''}`);
process.exit(0);
