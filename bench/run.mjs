// The headless benchmark: `npm run bench -- [--models tabular,small] [--batches 1,16,256] [--iterations 20] [--warmup 3]
// [--budget 60] [--contenders "WebGPU,WASM"] [--ort-threads 2]` (image presets: --models resnet18_64,resnet18,resnet50).
// Opens the benchmark page in headless Chromium (Debian's, through puppeteer-core), runs every
// contender there in one browser session, prints a markdown table with each contender's
// latency as a ratio to resgpu's, and writes the raw results to bench/results/<time>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import puppeteer from 'puppeteer-core';
import { MODELS_DIR, makeModels, startBenchServer } from './server.mjs';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'tabular,small,large' },
    batches: { type: 'string', default: '1,16,256,1024' },
    iterations: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    // Seconds per contender and batch size after which no further timed run starts (at least one runs).
    budget: { type: 'string' },
    // Comma-separated parts of contender names, e.g. "wasm,WASM" for resgpu-wasm and ORT-WASM.
    contenders: { type: 'string' },
    // onnxruntime-web's WASM threads (fixed for the page's life): default ⌈cores / 2⌉, at most 4.
    'ort-threads': { type: 'string' },
  },
});
const models = values.models.split(',');
const options = {
  models, batches: values.batches.split(',').map(Number), iterations: Number(values.iterations), warmup: Number(values.warmup),
  ...(values.contenders ? { contenders: values.contenders.split(',') } : {}),
  ...(values.budget ? { budgetMs: Number(values.budget) * 1000 } : {}),
};

makeModels(models);
const server = await startBenchServer();
const url = server.resolvedUrls.local[0];
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  protocolTimeout: 3_600_000,
  args: ['--no-sandbox', '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=swiftshader',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const page = await browser.newPage();
  page.on('console', (m) => m.type() === 'error' && console.error(`page: ${m.text()}`));
  await page.goto(values['ort-threads'] ? `${url}?ortThreads=${values['ort-threads']}` : url);
  await page.waitForFunction('window.benchReady === true', { timeout: 120_000 });
  const { adapter, results } = await page.evaluate((o) => window.runBenchmark(o), options);
  console.log(`adapter: ${adapter.vendor} ${adapter.architecture} ${adapter.description ?? ''}${adapter.software ? ' (SwiftShader: a CPU; every figure below is a CPU figure)' : ''}; ${navigatorLine()}`);
  console.log(table(results));
  console.log(`\n${errorTable(results)}`);
  console.log(`\n${cpuTable(results)}`);
  mkdirSync(join(MODELS_DIR, '..', 'results'), { recursive: true });
  const file = join(MODELS_DIR, '..', 'results', `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), options, adapter, results }, null, 1));
  console.log(`\nraw results: ${file}`);
} finally {
  await browser.close();
  await server.close();
}

/**
 * The CPU backends side by side: resgpu-wasm's and resgpu-auto's speed against onnxruntime-web's
 * WASM backend (above 1: faster than ORT), and auto against the better of resgpu's WebGPU and wasm.
 */
function cpuTable(results) {
  const lines = [
    '| model | batch | ORT-WASM ms (GFLOP/s) | resgpu-wasm 1 thread ms (GFLOP/s) | speed vs ORT | resgpu-wasm default threads ms (GFLOP/s) | speed vs ORT | resgpu-auto ms (backend) | auto time / best of WebGPU, wasm |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const ok = (r) => r && !r.skipped;
  for (const key of new Set(results.map((r) => `${r.model}|${r.batch}`))) {
    const [model, batch] = key.split('|');
    const row = results.filter((r) => r.model === model && String(r.batch) === batch);
    const wasm1 = row.find((r) => r.contender === 'resgpu-wasm (1 thread)');
    const wasm = row.find((r) => r.contender === 'resgpu-wasm');
    const ort = row.find((r) => r.contender === 'onnxruntime-web (WASM)');
    const auto = row.find((r) => r.contender.startsWith('resgpu-auto'));
    const best = Math.min(...row.filter((r) => ok(r) && (r.contender.startsWith('resgpu-wasm') || r.contender === 'resgpu (WebGPU)')).map((r) => r.medianMs));
    const cell = (r) => (ok(r) ? `${r.medianMs.toPrecision(3)} (${r.gflops.toPrecision(3)})` : '–');
    const speed = (r) => (ok(r) && ok(ort) ? `${(ort.medianMs / r.medianMs).toFixed(2)}×` : '–');
    const autoCell = ok(auto) ? `${auto.medianMs.toPrecision(3)} (${auto.contender.slice(13, -1)})` : '–';
    const autoRatio = ok(auto) && Number.isFinite(best) ? `${(auto.medianMs / best).toFixed(2)}×` : '–';
    lines.push(`| ${model} | ${batch} | ${cell(ort)} | ${cell(wasm1)} | ${speed(wasm1)} | ${cell(wasm)} | ${speed(wasm)} | ${autoCell} | ${autoRatio} |`);
  }
  return lines.join('\n');
}

/** Every contender's largest error on the checked rows, and what it was checked against. */
function errorTable(results) {
  const contenders = [...new Set(results.map((r) => r.contender))];
  const lines = [`| model | batch | checked against | ${contenders.map((c) => `${c} max error`).join(' | ')} |`, `|---|---:|---|${contenders.map(() => '---:').join('|')}|`];
  for (const key of new Set(results.map((r) => `${r.model}|${r.batch}`))) {
    const [model, batch] = key.split('|');
    const row = results.filter((r) => r.model === model && String(r.batch) === batch);
    const cell = (c) => {
      const r = row.find((x) => x.contender === c);
      return !r || r.skipped || !Number.isFinite(r.maxError) ? '–' : `${r.wrong ? 'WRONG ' : ''}${r.maxError.toExponential(1)}`;
    };
    lines.push(`| ${model} | ${batch} | ${row.find((r) => r.checkedAgainst)?.checkedAgainst ?? '–'} | ${contenders.map(cell).join(' | ')} |`);
  }
  return lines.join('\n');
}

function navigatorLine() {
  return `${process.platform} ${process.arch}, Chromium ${process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'}`;
}

/**
 * Median latency per contender, and its ratio to resgpu's (above 1: slower than resgpu). A
 * contender whose output disagreed with the reference says WRONG OUTPUT before its time.
 */
function table(results) {
  const contenders = [...new Set(results.map((r) => r.contender))];
  const lines = [
    `| model | batch | ${contenders.map((c) => `${c} ms (× resgpu)`).join(' | ')} | resgpu GFLOP/s | resgpu GPU ms (kernels) | resgpu first result ms | resgpu max error | checked against |`,
    `|---|---:|${contenders.map(() => '---:').join('|')}|---:|---:|---:|---:|---|`,
  ];
  for (const key of new Set(results.map((r) => `${r.model}|${r.batch}`))) {
    const [model, batch] = key.split('|');
    const row = results.filter((r) => r.model === model && String(r.batch) === batch);
    const ours = row.find((r) => r.contender.startsWith('resgpu'));
    const cells = contenders.map((c) => {
      const r = row.find((x) => x.contender === c);
      if (!r || r.skipped) return `skipped${r?.skipped ? ` (${r.skipped.slice(0, 64)})` : ''}`;
      const spread = `${r.minMs.toPrecision(3)}–${r.maxMs.toPrecision(3)}`;
      const wrong = r.wrong ? `WRONG OUTPUT (max error ${r.maxError.toExponential(1)}) ` : '';
      return `${wrong}${r.medianMs.toPrecision(3)} [${spread}] (${ours && !ours.skipped ? (r.medianMs / ours.medianMs).toFixed(2) : '–'}×)`;
    });
    const checked = row.find((r) => r.checkedAgainst)?.checkedAgainst ?? '–';
    lines.push(`| ${model} | ${batch} | ${cells.join(' | ')} | ${ours?.gflops?.toPrecision(3) ?? '–'} | ${Number.isFinite(ours?.gpuMedianMs) ? ours.gpuMedianMs.toPrecision(3) : '–'} | ${ours?.firstResultMs?.toPrecision(4) ?? '–'} | ${Number.isFinite(ours?.maxError) ? ours.maxError.toExponential(1) : '–'} | ${checked} |`);
  }
  return lines.join('\n');
}
