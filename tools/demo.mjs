// The README's demo: the bundled breast-cancer classifier, as torch.save wrote it (trained by
// tools/train_example.py) run by resgpu on WebGPU in Node, checked against PyTorch's own
// outputs and timed beside the CPU reference. Run it with `npm run demo`.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { loadModel } from '../dist/resgpu.js';
import { nodeGpu } from '../dist/node.js'; // SwiftShader when no GPU driver is configured

const file = process.argv[2] ?? new URL('../examples/breast_cancer.pt', import.meta.url).pathname;
const test = JSON.parse(readFileSync(new URL('../examples/breast_cancer.test.json', import.meta.url), 'utf8'));
const bytes = readFileSync(file);

const t0 = performance.now();
const gpu = await loadModel(bytes, { gpu: await nodeGpu() });
const loadMs = performance.now() - t0;
const cpu = await loadModel(bytes, { backend: 'cpu' });

const info = gpu.describe({ batch: test.inputs.length });
console.log(`resgpu demo: ${file}`);
console.log(`adapter: ${info.adapter?.vendor} ${info.adapter?.architecture} ${info.adapter?.description ?? ''}`.trim());
console.log(`model: ${info.inputSize} → ${info.outputSize}, ${info.layers.length} layers, ` +
  `${info.dispatches.length} dispatches in 1 submit per run (loaded and compiled in ${loadMs.toFixed(0)} ms)`);
for (const d of info.dispatches) console.log(`  ${d.kernel.padEnd(20)} ${d.layer}`);

const rows = test.inputs.length;
const x = Float32Array.from(test.inputs.flat());
const y = await gpu.run(x);
const argmax = (v, r) => (v[2 * r + 1] > v[2 * r] ? 1 : 0);
let correct = 0;
let agree = 0;
let maxDiff = 0;
for (let r = 0; r < rows; r++) {
  const torchLogits = test.torch_logits[r];
  if (argmax(y, r) === test.labels[r]) correct++;
  if (argmax(y, r) === argmax(torchLogits, 0)) agree++;
  for (let c = 0; c < 2; c++) maxDiff = Math.max(maxDiff, Math.abs(y[2 * r + c] - torchLogits[c]));
}
console.log(`\ntest set: ${rows} samples of ${test.description.split(';')[0]}`);
console.log(`accuracy: ${(100 * correct / rows).toFixed(2)}% (${correct}/${rows})`);
console.log(`agreement with PyTorch ${test.torch_version}: ${agree}/${rows} predictions, max |logit difference| ${maxDiff.toExponential(2)}`);

async function median(model, input, runs) {
  for (let i = 0; i < 3; i++) await model.run(input); // warm-up
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await model.run(input);
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[runs >> 1];
}
console.log('\nlatency (median of 30 runs, input upload to output read back):');
for (const batch of [1, rows]) {
  const input = x.subarray(0, batch * 30);
  const g = await median(gpu, input, 30);
  const c = await median(cpu, input, 30);
  console.log(`  batch ${String(batch).padStart(3)}: resgpu WebGPU ${g.toFixed(3)} ms, CPU reference ${c.toFixed(3)} ms (${(c / g).toFixed(2)}x)`);
}
await gpu.dispose();
const ok = agree === rows;
if (!ok) console.error('resgpu disagrees with PyTorch: this is a bug.');
process.exit(ok ? 0 : 1);
