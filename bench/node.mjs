// The benchmark's Node mode: resgpu on Dawn (the 'webgpu' package) with whatever adapter the
// machine has, for machines where a browser cannot run (a GPU server) and for comparing builds.
//
//   node bench/node.mjs [--models tabular,small,large] [--batches 1,16,256,1024]
//                       [--iterations 20] [--warmup 3] [--kernels auto,gemm,gemv,gemm_tiled]
//                       [--precisions f32,f16] [--builds dist,../other/dist] [--peak-tflops 67]
//                       [--bandwidth-tbs 4.8] [--json out.json]
//
// Contenders are every build × kernel × precision (build: a folder holding a built resgpu.js,
// default this checkout's dist; kernel 'auto' is the engine's own choice). They are measured
// interleaved, one timed run each in turn, so that drift on a shared machine hits them alike.
// Reported per contender: the median end-to-end time (input upload to output read back), the
// median kernel time (timestamp queries, where the adapter has them), GFLOP/s and GB/s of
// weights read, both over kernel time when there is one, the ratio to the first contender, and
// with --peak-tflops / --bandwidth-tbs the fraction of the GPU's FP32 peak and memory bandwidth.
// On a software adapter (SwiftShader) every figure is a CPU figure, and the table says so.
// Each preset is loaded from the file its meta.json names (the seed presets' .pt, the other
// families' .safetensors); a build that cannot load it (an older release and a newer family) gets
// a row saying why instead of stopping the run.
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeModels, MODELS_DIR, readMeta } from './server.mjs';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'tabular,small' },
    batches: { type: 'string', default: '1,16,256,1024' },
    iterations: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    kernels: { type: 'string', default: 'auto' },
    precisions: { type: 'string', default: 'f32' },
    builds: { type: 'string', default: 'dist' },
    'peak-tflops': { type: 'string' },
    'bandwidth-tbs': { type: 'string' },
    json: { type: 'string' },
  },
});
const list = (s) => s.split(',').filter(Boolean);
const batches = list(values.batches).map(Number);
const iterations = Number(values.iterations);
const warmup = Number(values.warmup);
const peakFlops = values['peak-tflops'] ? Number(values['peak-tflops']) * 1e12 : null;
const bandwidth = values['bandwidth-tbs'] ? Number(values['bandwidth-tbs']) * 1e12 : null;

// No Vulkan driver configured: SwiftShader, WebGPU on the CPU (the rule of resgpu/node, from this checkout's build).
const { useSwiftShaderUnlessConfigured } = await import(resolve('dist', 'node.js'));
useSwiftShaderUnlessConfigured();
const { create } = await import('webgpu');
const gpu = create([]);
const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) throw new Error('no WebGPU adapter');
const { vendor, architecture, description } = adapter.info;
const software = adapter.info.isFallbackAdapter || /swiftshader|llvmpipe/i.test(`${architecture} ${description}`);
const device = await adapter.requestDevice({
  requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
  requiredLimits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize, maxBufferSize: adapter.limits.maxBufferSize },
});
console.log(`adapter: ${vendor} ${architecture} ${description}${software ? '  (SOFTWARE: CPU figures, not GPU figures)' : ''}`);

/** The floor of any inference's end-to-end time: an empty submit plus a 16-byte read-back. */
async function roundTripMs() {
  const src = device.createBuffer({ size: 16, usage: 0x0004 | 0x0008 }); // COPY_SRC | COPY_DST
  const dst = device.createBuffer({ size: 16, usage: 0x0001 | 0x0008 }); // MAP_READ | COPY_DST
  const times = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    const encoder = device.createCommandEncoder();
    encoder.copyBufferToBuffer(src, 0, dst, 0, 16);
    device.queue.submit([encoder.finish()]);
    await dst.mapAsync(1);
    dst.unmap();
    times.push(performance.now() - t0);
  }
  src.destroy();
  dst.destroy();
  return times.sort((a, b) => a - b)[25];
}
const floorMs = await roundTripMs();

const contenders = [];
for (const dir of list(values.builds)) {
  const resgpu = await import(resolve(dir, 'resgpu.js'));
  for (const kernel of list(values.kernels)) {
    for (const precision of list(values.precisions)) {
      const options = { device, profile: true, ...(kernel === 'auto' ? {} : { kernel }), ...(precision === 'f32' ? {} : { precision }) };
      contenders.push({ name: [dir, kernel, precision].join(' '), resgpu, options });
    }
  }
}
makeModels(list(values.models));

const median = (xs) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : null);
const results = [];
for (const name of list(values.models)) {
  const meta = readMeta(name);
  const bytes = readFileSync(`${MODELS_DIR}/${meta.resgpu}`);
  const loaded = [];
  for (const c of contenders) {
    try {
      loaded.push(await c.resgpu.loadModel(bytes, c.options));
    } catch (e) {
      loaded.push({ failed: e.message.split('\n')[0] });
    }
  }
  const ok = loaded.filter((m) => !m.failed);
  for (const batch of batches) {
    // From the meta, not from dispatches: LayerNorm and elementwise steps are dispatches without a GEMM.
    const flops = meta.flops_per_row * batch;
    const x = Float32Array.from({ length: batch * meta.input_size }, (_, i) => Math.sin(i));
    for (const m of ok) for (let i = 0; i < warmup; i++) await m.run(x);
    const wall = loaded.map(() => []);
    const kernel = loaded.map(() => []);
    for (let i = 0; i < iterations; i++) {
      for (const [j, m] of loaded.entries()) {
        if (m.failed) continue;
        const t0 = performance.now();
        await m.run(x);
        wall[j].push(performance.now() - t0);
        if (m.lastRunGpuMs != null) kernel[j].push(m.lastRunGpuMs);
      }
    }
    const first = wall.find((w) => w.length);
    for (const [j, m] of loaded.entries()) {
      if (m.failed) {
        results.push({ model: name, batch, contender: contenders[j].name, failed: m.failed });
        continue;
      }
      const description = m.describe({ batch });
      const ms = median(wall[j]);
      const kernelMs = median(kernel[j]);
      const seconds = (kernelMs ?? ms) / 1e3;
      results.push({
        model: name,
        batch,
        contender: contenders[j].name,
        variants: [...new Set(description.dispatches.map((x) => x.variant))].join('+'),
        ms,
        kernelMs,
        gflops: flops / seconds / 1e9,
        weightGBs: description.gpuBytes.weights / seconds / 1e9,
        ratio: ms / median(first),
      });
      console.error(JSON.stringify(results.at(-1)));
    }
  }
  for (const m of ok) await m.dispose();
}

const pct = (v, peak) => (peak ? ` (${((100 * v) / peak).toFixed(1)}%)` : '');
console.log(`\n${software ? '**Software adapter: CPU figures, not GPU figures.** ' : ''}Adapter: ${vendor} ${architecture} ${description}.`);
console.log('GFLOP/s and GB/s are over kernel time where the adapter has timestamps, else end to end.');
console.log(`Bare submit + read-back round trip on this device: ${floorMs.toFixed(3)} ms (median of 50).\n`);
console.log('| model | batch | contender | kernels | end to end ms | kernel ms | GFLOP/s | weights GB/s | ratio |');
console.log('|---|---:|---|---|---:|---:|---:|---:|---:|');
for (const r of results) {
  if (r.failed) {
    console.log(`| ${r.model} | ${r.batch} | ${r.contender} | – | did not load: ${r.failed.slice(0, 80)} | | | | |`);
    continue;
  }
  console.log(
    `| ${r.model} | ${r.batch} | ${r.contender} | ${r.variants} | ${r.ms.toFixed(3)} | ${r.kernelMs?.toFixed(3) ?? '–'} | ` +
      `${r.gflops.toPrecision(3)}${pct(r.gflops * 1e9, peakFlops)} | ${r.weightGBs.toPrecision(3)}${pct(r.weightGBs * 1e9, bandwidth)} | ${r.ratio.toFixed(2)} |`,
  );
}
if (values.json) writeFileSync(values.json, JSON.stringify({ adapter: { vendor, architecture, description, software }, roundTripMs: floorMs, results }, null, 1));
process.exit(0);
