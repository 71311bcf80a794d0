// Peak JS memory while loading a model, against the file's size.
//   node --expose-gc bench/load-memory.mjs [preset]     (after `npm run build`)
// Makes the preset with real PyTorch (bench/make_model.py), then loads its .pt and its
// .safetensors from in-memory bytes on WebGPU, sampling process.memoryUsage() at every
// progress callback and after load. "JS memory" = V8 heap used + ArrayBuffers (the file's
// bytes, tensors, packed weights); GPU-side copies are the driver's, not counted.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

if (!global.gc) throw new Error('run with node --expose-gc');
const { loadModel } = await import('../dist/resgpu.js');
const { nodeGpu } = await import('../dist/node.js');

const preset = process.argv[2] ?? 'large';
const dir = mkdtempSync(join(tmpdir(), 'resgpu-mem-'));
execFileSync("/usr/bin/python3", [new URL("make_model.py", import.meta.url).pathname, preset, join(dir, "model")]);
const gpu = await nodeGpu();

const js = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const MB = (b) => (b / 2 ** 20).toFixed(1);

console.log(`| preset | file | size | peak JS memory while loading (incl. the file) | peak / file size | retained after load |`);
console.log(`|---|---|---|---|---|---|`);
for (const ext of ['pt', 'safetensors']) {
  global.gc();
  const baseline = js();
  let bytes = readFileSync(join(dir, `model.${ext}`));
  const size = bytes.byteLength;
  let peak = js();
  const model = await loadModel(bytes, { gpu, onProgress: () => (peak = Math.max(peak, js())) });
  peak = Math.max(peak, js());
  bytes = null; // the caller lets go of the file; the model must not hold it
  global.gc();
  await new Promise((ok) => setTimeout(ok, 50));
  global.gc();
  const retained = js() - baseline;
  console.log(`| ${preset} | .${ext} | ${MB(size)} MB | ${MB(peak - baseline)} MB | ${((peak - baseline) / size).toFixed(2)} | ${MB(retained)} MB |`);
  await model.dispose();
}
rmSync(dir, { recursive: true });
process.exit(0);
