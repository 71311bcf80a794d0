// Peak JS memory while loading a model against the file's size, and, for a streamed source, how
// long after the file's last byte the first inference result comes, against the time the
// pipelines took to compile.
//   node --expose-gc bench/load-memory.mjs [--model large] [--sources bytes,file,url] [--fingerprints on,off]
//   node --expose-gc bench/load-memory.mjs --model resnet50   (image presets: sources file,url and fingerprints on,off by default)
// after `npm run build`.
// The preset comes from bench/models (made with real PyTorch by make_model.py when missing).
// Sources: `bytes` (the file read into memory first, then handed over: the file is counted in
// the peak), `file` (loadModel(path): streamed from disk), `url` (loadModel('http://...'): a
// local HTTP server sends the file with its Content-Length, 1 MiB at a time, like a download).
//
// JS memory = V8 heap used + ArrayBuffers (the file's buffer, tensors, packed weights), sampled
// at every progress callback and every 5 ms; RSS is sampled likewise and also counts the GPU
// memory, which SwiftShader keeps in the process. Each load gets a fresh device whose
// createComputePipelineAsync is wrapped to time every pipeline (start of the first to end of the
// last: "compile wall"), since the engine reports a compile stage but not its length.
// After-last-byte = time from the last byte read to the load's promise resolving; first result =
// from the last byte to the first batch-1 output read back (includes one inference: its steady
// time is measured after and shown so the two can be told apart). `fingerprints off` loads with
// `fingerprint: false`: the model's fingerprint folds every weight again in float64 once the
// file is in, which is most of what happens after the last byte. `--gc-each` collects garbage
// at every progress callback: the peak is then of live memory (its times mean nothing).
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { IMAGE_PRESETS, makeModels, MODELS_DIR, readMeta } from './server.mjs';

if (!global.gc) throw new Error('run with node --expose-gc');
const { loadModel } = await import('../dist/resgpu.js');
const { nodeGpu } = await import('../dist/node.js');

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { model: { type: 'string' }, sources: { type: 'string' }, fingerprints: { type: 'string' }, 'gc-each': { type: 'boolean' } },
});
const preset = values.model ?? positionals[0] ?? 'large';
const image = IMAGE_PRESETS.includes(preset);
const sources = (values.sources ?? (image ? 'file,url' : 'bytes')).split(',');
const fingerprints = (values.fingerprints ?? (image ? 'on,off' : 'on')).split(',');
makeModels([preset]);
const meta = readMeta(preset);
// The seed presets also have a .safetensors beside their .pt; image presets are .pt only.
const files = [join(MODELS_DIR, `${preset}.pt`), ...(image ? [] : [join(MODELS_DIR, `${preset}.safetensors`)])].filter(existsSync);
const inputShape = meta.input_shape;

const gpu = await nodeGpu();
// Dawn hands out a device per adapter: each load asks for an adapter of its own.
const adapter = await gpu.requestAdapter();
const software = /swiftshader|llvmpipe/i.test(`${adapter.info.architecture} ${adapter.info.description}`);

/** A local HTTP server sending a file with its Content-Length, so loadModel streams it as a download. */
const server = createServer((req, res) => {
  const file = join(MODELS_DIR, decodeURIComponent(req.url.slice(1)));
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': statSync(file).size });
  createReadStream(file, { highWaterMark: 1 << 20 }).pipe(res);
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const urlOf = (file) => `http://127.0.0.1:${server.address().port}/${encodeURIComponent(file.slice(MODELS_DIR.length + 1))}`;

const js = () => {
  const m = process.memoryUsage();
  return { js: m.heapUsed + m.arrayBuffers, rss: m.rss, heap: m.heapUsed, buffers: m.arrayBuffers };
};
const MB = (b) => (b / 2 ** 20).toFixed(1);

/** A device of its own for each load (so its pipelines really compile), timing every pipeline. */
async function timedDevice() {
  const adapter = await gpu.requestAdapter();
  const device = await adapter.requestDevice({
    requiredLimits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize, maxBufferSize: adapter.limits.maxBufferSize },
  });
  const spans = [];
  const create = device.createComputePipelineAsync;
  device.createComputePipelineAsync = function (...args) {
    const span = { start: performance.now(), end: NaN };
    spans.push(span);
    return create.apply(this, args).then((p) => ((span.end = performance.now()), p));
  };
  return { device, spans };
}

async function measure(file, source, fingerprint) {
  global.gc();
  await new Promise((ok) => setTimeout(ok, 20));
  global.gc();
  const base = js();
  let peak = { ...base };
  const sample = () => {
    const now = js();
    // The split at the JS peak: V8's heap against ArrayBuffers (the file, scratch, tensors).
    if (now.js > peak.js) Object.assign(peak, { js: now.js, heap: now.heap, buffers: now.buffers });
    peak.rss = Math.max(peak.rss, now.rss);
  };
  const timer = setInterval(sample, 5);
  const size = statSync(file).size;
  const { device, spans } = await timedDevice();
  let lastByte = NaN;
  const t0 = performance.now();
  let input = source === 'bytes' ? readFileSync(file) : source === 'file' ? file : urlOf(file);
  if (source === 'bytes') lastByte = performance.now();
  const model = await loadModel(input, {
    device, inputShape, backend: 'webgpu', fingerprint: fingerprint === 'on',
    onProgress: (p) => {
      // --gc-each: collect first, so the peak is of live memory only (what the load holds, not
      // garbage V8 has yet to collect); it slows the load, so its times are not comparable.
      if (values['gc-each']) global.gc();
      sample();
      if (p.stage === 'download' && p.totalBytes !== null && p.loadedBytes === p.totalBytes) lastByte = performance.now();
    },
  });
  const loaded = performance.now();
  sample();
  const x = Float32Array.from({ length: model.inputSize }, (_, i) => Math.sin(i));
  await model.run(x);
  const firstResult = performance.now();
  sample();
  clearInterval(timer);
  const steady = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await model.run(x);
    steady.push(performance.now() - t);
  }
  input = null; // the caller lets go of the file; the model must not hold it
  global.gc();
  await new Promise((ok) => setTimeout(ok, 50));
  global.gc();
  const retained = js().js - base.js;
  await model.dispose();
  device.destroy();
  const compileStart = Math.min(...spans.map((s) => s.start));
  const compileEnd = Math.max(...spans.map((s) => s.end));
  return {
    file: file.slice(MODELS_DIR.length + 1), source, fingerprint, size, peakJs: peak.js - base.js, peakHeap: peak.heap - base.heap, peakBuffers: peak.buffers - base.buffers, peakRss: peak.rss - base.rss, retained,
    loadMs: loaded - t0, afterLastByteMs: loaded - lastByte, firstResultMs: firstResult - lastByte,
    steadyMs: steady.sort((a, b) => a - b)[1], pipelines: spans.length, compileWallMs: compileEnd - compileStart,
    compileAfterLastByteMs: Math.max(0, compileEnd - lastByte),
  };
}

console.log(`${values['gc-each'] ? 'LIVE memory (gc at every progress callback; times not comparable): ' : ''}${preset}${inputShape ? ` (input ${inputShape.join('×')})` : ''} on ${adapter.info.vendor} ${adapter.info.architecture}${software ? ' (SwiftShader: a CPU; RSS includes the "GPU" memory)' : ''}`);
console.log('| file | source | fingerprint | size | peak JS memory (heap + ArrayBuffers) | peak / file |  of which heap / ArrayBuffers | peak RSS growth | retained after load | load ms | last byte → load resolved ms | last byte → first result ms | one steady run ms | pipelines | compile wall ms | compile after last byte ms |');
console.log('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const file of files) {
  for (const source of sources) for (const fingerprint of fingerprints) {
    const r = await measure(file, source, fingerprint);
    console.log(`| ${r.file} | ${r.source} | ${r.fingerprint} | ${MB(r.size)} MB | ${MB(r.peakJs)} MB | ${(r.peakJs / r.size).toFixed(2)} | ${MB(r.peakHeap)} / ${MB(r.peakBuffers)} MB | ${MB(r.peakRss)} MB | ${MB(r.retained)} MB | ${r.loadMs.toFixed(0)} | ${r.afterLastByteMs.toFixed(0)} | ${r.firstResultMs.toFixed(0)} | ${r.steadyMs.toFixed(0)} | ${r.pipelines} | ${r.compileWallMs.toFixed(0)} | ${r.compileAfterLastByteMs.toFixed(0)} |`);
  }
}
server.close();
process.exit(0);
