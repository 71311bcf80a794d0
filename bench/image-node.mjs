// Image ResNets in Node on Dawn: `node bench/image-node.mjs [--model resnet18] [--size 64]
// [--batch 1] [--iterations 10] [--precision f32]`. Writes a torchvision model with random weights
// (Debian's python3-torchvision) as a bare .pt state_dict, loads it with inputShape [3, size, size]
// on WebGPU, and prints the median end-to-end run time (input upload to output read back), the
// dispatches and the GPU memory. On a software adapter (SwiftShader) every figure is a CPU figure,
// and the output says so.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadModel } from '../dist/resgpu.js';
import { nodeGpu } from '../dist/node.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet18' },
    size: { type: 'string', default: '64' },
    batch: { type: 'string', default: '1' },
    iterations: { type: 'string', default: '10' },
    precision: { type: 'string', default: 'f32' },
  },
});
const [size, batch, iterations] = [values.size, values.batch, values.iterations].map(Number);
const dir = resolve(import.meta.dirname, 'models');
mkdirSync(dir, { recursive: true });
const file = resolve(dir, `${values.model}.pt`);
execFileSync('/usr/bin/python3', ['-c', `import torch, torchvision; torch.manual_seed(0); torch.save(torchvision.models.${values.model}().state_dict(), ${JSON.stringify(file)})`]);

const model = await loadModel(readFileSync(file), { backend: 'webgpu', gpu: await nodeGpu(), inputShape: [3, size, size], precision: values.precision });
const d = model.describe({ batch });
const x = Float32Array.from({ length: batch * 3 * size * size }, (_, i) => Math.sin(i));
await model.run(x); // compiles nothing more, makes the plan
const times = [];
for (let i = 0; i < iterations; i++) {
  const t = performance.now();
  await model.run(x);
  times.push(performance.now() - t);
}
times.sort((a, b) => a - b);
const adapter = d.adapter ? `${d.adapter.vendor} ${d.adapter.architecture}` : 'unknown adapter';
const software = /swiftshader|llvmpipe/i.test(adapter) ? ' (SwiftShader: a CPU figure)' : '';
console.log(`${values.model} 3×${size}×${size} batch ${batch} ${values.precision} on ${adapter}${software}`);
console.log(`  median ${times[times.length >> 1].toFixed(1)} ms, best ${times[0].toFixed(1)} ms over ${iterations} runs`);
console.log(`  ${d.dispatches.length} dispatches; GPU memory: weights ${(d.gpuBytes.weights / 2 ** 20).toFixed(1)} MiB, activations ${(d.gpuBytes.activations / 2 ** 20).toFixed(2)} MiB`);
await model.dispose();
process.exit(0);
