// The benchmark's Node mode: resgpu on Dawn (the 'webgpu' package) with whatever adapter the
// machine has, for machines where a browser cannot run (a GPU server) and for comparing builds.
//
//   node bench/node.mjs [--models tabular,small,large] [--batches 1,16,256,1024]
//                       [--iterations 20] [--warmup 3] [--builds dist,../other/dist]
//
// Each build (a folder holding a built resgpu.js; default: this checkout's dist, after
// `npm run build`) is one contender. Contenders are measured interleaved, one timed run each in
// turn, so that drift on a shared machine hits them alike; the table gives medians and the
// ratio of each contender's median to the first's (below 1: faster). Kernel time comes from
// timestamp queries (profile: true) where the adapter has them. On SwiftShader (no GPU driver)
// every figure is a CPU figure.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeModels, MODELS_DIR } from './server.mjs';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'tabular,small' },
    batches: { type: 'string', default: '1,16,256,1024' },
    iterations: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    builds: { type: 'string', default: 'dist' },
  },
});
const models = values.models.split(',');
const batches = values.batches.split(',').map(Number);
const iterations = Number(values.iterations);
const warmup = Number(values.warmup);

if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES) {
  process.env.VK_ICD_FILENAMES = '/usr/lib/chromium/vk_swiftshader_icd.json'; // no driver configured: WebGPU on the CPU
}
const { create } = await import('webgpu');
const gpu = create([]);
const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) throw new Error('no WebGPU adapter');
const software = adapter.info.isFallbackAdapter || /swiftshader|llvmpipe/i.test(`${adapter.info.architecture} ${adapter.info.description}`);
console.log(`adapter: ${adapter.info.vendor} ${adapter.info.architecture} ${adapter.info.description}${software ? '  (software: CPU figures, not GPU figures)' : ''}`);

const builds = await Promise.all(
  values.builds.split(',').map(async (dir) => ({ name: dir, resgpu: await import(resolve(dir, 'resgpu.js')) })),
);
makeModels(models);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
for (const name of models) {
  const bytes = readFileSync(`${MODELS_DIR}/${name}.pt`);
  const loaded = [];
  for (const b of builds) loaded.push(await b.resgpu.loadModel(bytes, { gpu, profile: true }));
  const d = loaded[0].describe();
  const flopsPerRow = d.dispatches.reduce((n, x) => n + 2 * x.outFeatures * (x.inFeatures + x.shortcutFeatures), 0);
  for (const batch of batches) {
    const x = Float32Array.from({ length: batch * d.inputSize }, (_, i) => Math.sin(i));
    for (const m of loaded) for (let i = 0; i < warmup; i++) await m.run(x);
    const wall = loaded.map(() => []);
    const kernel = loaded.map(() => []);
    for (let i = 0; i < iterations; i++) {
      for (const [j, m] of loaded.entries()) {
        const t0 = performance.now();
        await m.run(x);
        wall[j].push(performance.now() - t0);
        if (m.lastRunGpuMs != null) kernel[j].push(m.lastRunGpuMs);
      }
    }
    const base = median(wall[0]);
    rows.push(
      `| ${name} | ${batch} | ` +
        loaded
          .map((_, j) => {
            const ms = median(wall[j]);
            const k = kernel[j].length ? ` (kernels ${median(kernel[j]).toFixed(3)})` : '';
            const ratio = j === 0 ? '' : ` = ${(ms / base).toFixed(2)}x`;
            return `${ms.toFixed(3)}${k}${ratio}`;
          })
          .join(' | ') +
        ` | ${((flopsPerRow * batch) / base / 1e6).toFixed(2)} |`,
    );
    console.error(rows.at(-1));
  }
  for (const m of loaded) await m.dispose();
}
console.log(`\n| model | batch | ${builds.map((b) => `${b.name} ms`).join(' | ')} | GFLOP/s (first) |`);
console.log(`|---|---:|${builds.map(() => '---:').join('|')}|---:|`);
for (const r of rows) console.log(r);
process.exit(0);
