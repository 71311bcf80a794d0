// The Node benchmark: `npm run build && node bench/wasm-node.mjs [--models small,medium,large]
// [--batches 1,256] [--threads 1,2] [--iterations 20] [--rounds 3] [--builds dist,../other/dist]`.
// resgpu's WebAssembly backend (the built resgpu.js of each build, backend 'wasm'; and 'auto' when
// one build is measured, which in Node picks wasm too) against onnxruntime-web's WASM backend (its Node
// build) on the same preset, same thread count, in one process (one process per thread count:
// onnxruntime-web fixes its threads at its first session). `--builds` compares releases: a
// folder holding a built resgpu.js each, as bench/node.mjs takes them.
// Contenders take turns, `iterations` runs each per round after a warm-up, so machine noise
// hits all alike; each round reports the median of its runs, the table the median over rounds
// with their min–max. A contender that cannot load the preset (a family its build does not run
// yet) gets a row saying why, and the others are measured as usual.
// Image presets (`--models resnet18,resnet50,resnet18_64`, made on demand by make_model.py): resgpu
// loads the bare torchvision .pt with `inputShape` from the preset's meta.json, ORT the .onnx with
// input [batch, C, H, W]; both take the same NCHW rows. e.g. `nice -n 10 node bench/wasm-node.mjs
// --models resnet18,resnet50 --batches 1,8 --threads 1,2 --iterations 3 --rounds 2`.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-web';
import { MODELS_DIR, makeModels, readMeta } from './server.mjs';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'small,medium,large' },
    batches: { type: 'string', default: '1,256' },
    threads: { type: 'string', default: '1,2' },
    iterations: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '3' },
    builds: { type: 'string', default: 'dist' },
  },
});
const list = (s) => s.split(',').filter(Boolean);
const iterations = Number(values.iterations);
const rounds = Number(values.rounds);
const builds = list(values.builds);
makeModels(list(values.models));
const HEADER = '| model | batch | threads | contender | median ms [min–max over rounds] | GFLOP/s | speed vs ORT-WASM |';

if (list(values.threads).length > 1) {
  // One child process per thread count, each printing its rows.
  const rows = list(values.threads).flatMap((t) => {
    const args = [process.argv[1], '--models', values.models, '--batches', values.batches, '--threads', t, '--iterations', values.iterations, '--rounds', values.rounds, '--builds', values.builds];
    return execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| model'));
  });
  console.log(`Node ${process.version}, ${process.platform} ${process.arch}, ${values.rounds} rounds × ${values.iterations} runs per contender, contenders taking turns`);
  console.log(`${HEADER}\n|---|---:|---:|---|---:|---:|---:|\n${rows.join('\n')}`);
  process.exit(0);
}

function input(rows, width) {
  let s = 12345;
  return Float32Array.from({ length: rows * width }, () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 4 - 2);
}

const engines = await Promise.all(builds.map(async (dir) => ({ dir, resgpu: await import(resolve(dir, 'resgpu.js')) })));
// Named by build only when there are several, so that one build's table reads as before.
const label = (name, dir) => (builds.length > 1 ? `${name} [${dir}]` : name);

/** resgpu's contenders (or why each failed to load), then ORT-WASM, the last. */
async function contenders(meta, threads) {
  const bytes = readFileSync(join(MODELS_DIR, meta.resgpu));
  const cs = [];
  const add = async (name, load) => {
    try {
      const m = await load();
      cs.push({ name: m.backend === 'wasm' || name.startsWith('resgpu-wasm') ? name : `${name} (${m.backend})`, run: (x) => m.run(x), dispose: () => m.dispose() });
    } catch (e) {
      cs.push({ name, failed: e.message.split('\n')[0] });
    }
  };
  for (const { dir, resgpu } of engines) {
    const shape = meta.input_shape ? { inputShape: meta.input_shape } : {};
    await add(label('resgpu-wasm', dir), () => resgpu.loadModel(bytes, { backend: 'wasm', threads, ...shape }));
    // 'auto' picks wasm in Node (no navigator.gpu): measured for a single build only, where the
    // table shows that choice and its cost; comparing builds, it would only double the run time.
    // Image presets: 'auto' is wasm as well, and a second ResNet run would double a long table.
    if (builds.length === 1 && !meta.input_shape) await add('resgpu-auto', () => resgpu.loadModel(bytes, { threads, ...shape }));
  }
  ort.env.wasm.numThreads = threads;
  const session = await ort.InferenceSession.create(join(MODELS_DIR, meta.onnx), { executionProviders: ['wasm'] });
  cs.push({
    name: 'ORT-WASM',
    async run(x, batch) {
      const dims = meta.input_shape ? [batch, ...meta.input_shape] : [batch, x.length / batch];
      const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, dims) });
      return out[session.outputNames[0]].data;
    },
    dispose: () => session.release(),
  });
  return cs;
}

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const rows = [];
for (const preset of list(values.models)) {
  const meta = readMeta(preset);
  for (const threads of list(values.threads).map(Number)) {
    const cs = await contenders(meta, threads);
    const ortRunner = cs.at(-1);
    const live = cs.filter((c) => !c.failed);
    for (const batch of list(values.batches).map(Number)) {
      const x = input(batch, meta.input_size);
      const reference = await ortRunner.run(x, batch);
      const perRound = new Map(live.map((c) => [c, []]));
      for (let round = 0; round < rounds; round++) {
        for (const c of live) {
          for (let i = 0; i < 3; i++) await c.run(x, batch); // warm-up
          const times = [];
          for (let i = 0; i < iterations; i++) {
            const t = performance.now();
            await c.run(x, batch);
            times.push(performance.now() - t);
          }
          perRound.get(c).push(median(times));
        }
      }
      const ortMs = median(perRound.get(ortRunner));
      const worst = [];
      for (const c of cs) {
        if (c.failed) {
          rows.push(`| ${preset} | ${batch} | ${threads} | ${c.name} | not measurable: ${c.failed.slice(0, 90)} | – | – |`);
          continue;
        }
        const y = await c.run(x, batch);
        let error = 0;
        for (let i = 0; i < y.length; i++) error = Math.max(error, Math.abs(y[i] - reference[i]) / Math.max(1, Math.abs(reference[i])));
        if (c !== ortRunner) worst.push(`${c.name} ${error.toExponential(1)}`);
        const ms = median(perRound.get(c));
        const r = perRound.get(c);
        rows.push(`| ${preset} | ${batch} | ${threads} | ${c.name} | ${ms.toPrecision(3)} [${Math.min(...r).toPrecision(3)}–${Math.max(...r).toPrecision(3)}] | ${((meta.flops_per_row * batch) / (ms * 1e6)).toPrecision(3)} | ${(ortMs / ms).toFixed(2)}× |`);
      }
      console.error(`${preset} batch ${batch} threads ${threads}: done (max relative difference to ORT: ${worst.join(', ') || 'none measured'})`);
    }
    for (const c of live) await c.dispose();
  }
}
console.log(`Node ${process.version}, ${process.platform} ${process.arch}, ${rounds} rounds × ${iterations} runs per contender, contenders taking turns`);
console.log(HEADER);
console.log('|---|---:|---:|---|---:|---:|---:|');
console.log(rows.join('\n'));
process.exit(0);
