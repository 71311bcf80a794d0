// The Node benchmark: `npm run build && node bench/wasm-node.mjs [--models small,medium,large]
// [--batches 1,256] [--threads 1,2] [--iterations 20] [--rounds 3]`.
// resgpu's WebAssembly backend (the built dist/resgpu.js, backend 'wasm' and 'auto') against
// onnxruntime-web's WASM backend (its Node build) on the same preset, same thread count, in one
// process (one process per thread count: onnxruntime-web fixes its threads at its first session).
// Contenders take turns, `iterations` runs each per round after a warm-up, so machine noise
// hits all alike; each round reports the median of its runs, the table the median over rounds
// with their min–max.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-web';
import { loadModel } from '../dist/resgpu.js';
import { MODELS_DIR, makeModels } from './server.mjs';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'small,medium,large' },
    batches: { type: 'string', default: '1,256' },
    threads: { type: 'string', default: '1,2' },
    iterations: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '3' },
  },
});
const list = (s) => s.split(',').filter(Boolean);
const iterations = Number(values.iterations);
const rounds = Number(values.rounds);
makeModels(list(values.models));
const HEADER = '| model | batch | threads | contender | median ms [min–max over rounds] | GFLOP/s | speed vs ORT-WASM |';

if (list(values.threads).length > 1) {
  // One child process per thread count, each printing its rows.
  const rows = list(values.threads).flatMap((t) => {
    const args = [process.argv[1], '--models', values.models, '--batches', values.batches, '--threads', t, '--iterations', values.iterations, '--rounds', values.rounds];
    return execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| model'));
  });
  console.log(`Node ${process.version}, ${process.platform} ${process.arch}, ${values.rounds} rounds × ${values.iterations} runs per contender, contenders taking turns`);
  console.log(`${HEADER}\n|---|---:|---:|---|---:|---:|---:|\n${rows.join('\n')}`);
  process.exit(0);
}

/** 2 × multiply-adds per row, from the folded layer shapes make_model.py wrote. */
function flopsPerRow(preset) {
  const { layers } = JSON.parse(readFileSync(join(MODELS_DIR, `${preset}.folded.json`), 'utf8'));
  let flops = 0;
  for (const layer of layers) for (const [key, e] of Object.entries(layer)) if (key.startsWith('w')) flops += 2 * e.shape[0] * e.shape[1];
  return flops;
}

function input(rows, width) {
  let s = 12345;
  return Float32Array.from({ length: rows * width }, () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 4 - 2);
}

async function contenders(preset, threads) {
  const pt = readFileSync(join(MODELS_DIR, `${preset}.pt`));
  const wasm = await loadModel(pt, { backend: 'wasm', threads });
  const auto = await loadModel(pt, { threads });
  ort.env.wasm.numThreads = threads;
  const session = await ort.InferenceSession.create(join(MODELS_DIR, `${preset}.onnx`), { executionProviders: ['wasm'] });
  const ortRun = async (x, batch) => {
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [batch, x.length / batch]) });
    return out[session.outputNames[0]].data;
  };
  return [
    { name: 'resgpu-wasm', run: (x) => wasm.run(x), dispose: () => wasm.dispose() },
    { name: `resgpu-auto (${auto.backend})`, run: (x) => auto.run(x), dispose: () => auto.dispose() },
    { name: 'ORT-WASM', run: ortRun, dispose: () => session.release() },
  ];
}

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const rows = [];
for (const preset of list(values.models)) {
  const flops = flopsPerRow(preset);
  for (const threads of list(values.threads).map(Number)) {
    const cs = await contenders(preset, threads);
    const inputSize = JSON.parse(readFileSync(join(MODELS_DIR, `${preset}.folded.json`), 'utf8')).layers[0].w1.shape[1];
    for (const batch of list(values.batches).map(Number)) {
      const x = input(batch, inputSize);
      const reference = await cs[2].run(x, batch);
      const perRound = cs.map(() => []);
      for (let round = 0; round < rounds; round++) {
        for (const [j, c] of cs.entries()) {
          for (let i = 0; i < 3; i++) await c.run(x, batch); // warm-up
          const times = [];
          for (let i = 0; i < iterations; i++) {
            const t = performance.now();
            await c.run(x, batch);
            times.push(performance.now() - t);
          }
          perRound[j].push(median(times));
        }
      }
      let worst = 0;
      const y = await cs[0].run(x, batch);
      for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(y[i] - reference[i]) / Math.max(1, Math.abs(reference[i])));
      const ortMs = median(perRound[2]);
      for (const [j, c] of cs.entries()) {
        const ms = median(perRound[j]);
        rows.push(`| ${preset} | ${batch} | ${threads} | ${c.name} | ${ms.toPrecision(3)} [${Math.min(...perRound[j]).toPrecision(3)}–${Math.max(...perRound[j]).toPrecision(3)}] | ${((flops * batch) / (ms * 1e6)).toPrecision(3)} | ${(ortMs / ms).toFixed(2)}× |`);
      }
      console.error(`${preset} batch ${batch} threads ${threads}: done (resgpu-wasm vs ORT max relative difference ${worst.toExponential(1)})`);
    }
    for (const c of cs) await c.dispose();
  }
}
console.log(`Node ${process.version}, ${process.platform} ${process.arch}, ${rounds} rounds × ${iterations} runs per contender, contenders taking turns`);
console.log(HEADER);
console.log('|---|---:|---:|---|---:|---:|---:|');
console.log(rows.join('\n'));
process.exit(0);
