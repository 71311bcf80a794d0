import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS } from './helpers/chrome.js';

/**
 * The benchmark page as `npm run bench:serve` serves it, after a tiny run in headless Chromium
 * (SwiftShader): the printed URL, the adapter header, the software-adapter warning, skipped
 * contenders listed once, legends without placeholders, and charts that really drew their
 * lines. The screenshot is left in test/.generated/bench-page.png for a person to look at.
 */
const ROOT = resolve(import.meta.dirname, '..');
const SCREENSHOT = join(ROOT, 'test/.generated/bench-page.png');
let server: ChildProcess;
let browser: Browser;
let page: Page;
let printed = '';

beforeAll(async () => {
  // The image preset is made on demand only (bench/server.mjs makes the MLP presets).
  if (!existsSync(join(ROOT, 'bench/models/resnet18_64.meta.json'))) {
    mkdirSync(join(ROOT, 'bench/models'), { recursive: true });
    execFileSync('/usr/bin/python3', ['bench/make_model.py', 'resnet18_64', 'bench/models/resnet18_64'], { cwd: ROOT });
  }
  server = spawn(process.execPath, ['bench/server.mjs'], { cwd: ROOT, env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((ok, fail) => {
    server.stdout!.on('data', (d: Buffer) => {
      printed += d;
      const m = /resgpu benchmark: (http\S+)/.exec(printed);
      if (m) ok(m[1]!);
    });
    server.on('exit', (code) => fail(new Error(`bench/server.mjs exited (${code}) before printing its URL`)));
  });
  browser = await puppeteer.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  await page.goto(url);
  await page.waitForFunction('window.benchReady === true', { timeout: 60_000 });
  // A preset (every contender has its files) and a model as if dropped on the page (.pt only:
  // the peers are skipped, for the same reason at every batch size).
  await page.evaluate(() =>
    window.runBenchmark({ models: ['tabular', { name: 'dropped.pt', resgpu: '/models/tabular.pt' }], batches: [1, 16], iterations: 2, warmup: 1 }),
  );
  mkdirSync(join(ROOT, 'test/.generated'), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
}, 600_000);

afterAll(async () => {
  await browser?.close();
  server?.kill();
});

test('the server prints the page URL', () => {
  expect(printed).toMatch(/^resgpu benchmark: http:\/\/127\.0\.0\.1:\d+\//m);
});

test('the adapter is one readable line, its details folded away, with a warning on a software adapter', async () => {
  const header = await page.evaluate(() => ({
    line: document.querySelector('#adapter-line')!.textContent!,
    warning: !document.querySelector<HTMLElement>('#software-warning')!.hidden,
    folded: !document.querySelector('#adapter details')!.hasAttribute('open'),
  }));
  expect(header.line).toMatch(/^Adapter: [^{\n]+$/);
  expect(header.line.toLowerCase()).toContain('swiftshader');
  expect(header.warning).toBe(true);
  expect(header.folded).toBe(true);
});

test('a contender skipped at every batch size is one row per model, not one per batch', async () => {
  const skipped = await page.$$eval('#results tbody tr', (rows) =>
    rows.filter((r) => r.querySelector('td.skipped')).map((r) => Array.from((r as HTMLTableRowElement).cells).slice(0, 3).map((c) => c.textContent)),
  );
  expect(skipped.filter(([model]) => model === 'dropped.pt')).toEqual([
    ['dropped.pt', 'onnxruntime-web (WebGPU)', '1, 16'],
    ['dropped.pt', 'onnxruntime-web (WASM)', '1, 16'],
    ['dropped.pt', 'TensorFlow.js (WebGPU)', '1, 16'],
  ]);
});

test('every chart drew its lines, kept its units and log scales, and its legend names only contenders that ran', async () => {
  const charts = await page.$$eval('#charts figure', (plots) =>
    plots.map((plot) => {
      const canvas = plot.querySelector('canvas')!;
      const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let coloured = 0; // the series' strokes; axes, grid and text are grey
      for (let i = 0; i < pixels.length; i += 4) {
        const [r, g, b, a] = [pixels[i]!, pixels[i + 1]!, pixels[i + 2]!, pixels[i + 3]!];
        if (a > 128 && Math.max(r, g, b) - Math.min(r, g, b) > 60) coloured++;
      }
      return {
        title: plot.querySelector('.u-title')!.textContent!,
        described: plot.getAttribute('aria-label')!,
        legend: Array.from(plot.querySelectorAll('.u-legend .u-series')).map((s) => s.textContent!.trim()),
        coloured,
      };
    }),
  );
  // On SwiftShader every title says what the figures are.
  expect(charts.map((c) => c.title)).toEqual(['tabular: median latency', 'tabular: GFLOP/s', 'dropped.pt: median latency', 'dropped.pt: GFLOP/s'].map((t) => `${t} (SwiftShader: a CPU)`));
  for (const c of charts) {
    expect(c.coloured, c.title).toBeGreaterThan(200);
    expect(c.described).toMatch(/x: batch size \(rows, log scale\); y: (median latency \(ms, log scale\)|GFLOP\/s \(log scale\))$/);
    expect(c.legend.join(' | ')).not.toMatch(/--|skipped/);
  }
  expect(charts[0]!.legend).toEqual(expect.arrayContaining(['resgpu (WebGPU)', 'CPU reference', 'onnxruntime-web (WASM)', 'TensorFlow.js (WebGPU)']));
  // A dropped file is read by resgpu's contenders only (the peers need their own formats).
  expect(charts[2]!.legend.filter((l) => l !== 'batch')).toEqual(expect.arrayContaining(['resgpu (WebGPU)', 'CPU reference', 'resgpu-wasm']));
  expect(charts[2]!.legend.filter((l) => !l.startsWith('resgpu') && l !== 'batch' && l !== 'CPU reference')).toEqual([]);
});

test('an image preset: resgpu, onnxruntime-web and the folded TensorFlow.js ResNet agree with the float64 reference on NCHW rows', async () => {
  // Last: it runs the page again. One image, one timed run: seconds per contender on SwiftShader.
  const { results } = await page.evaluate(() =>
    window.runBenchmark({ models: ['resnet18_64'], batches: [1], iterations: 1, warmup: 1, contenders: ['resgpu (WebGPU)', 'onnxruntime-web (WASM)', 'TensorFlow.js'] }),
  );
  const ran = results.filter((r) => !r.skipped);
  expect(ran.map((r) => r.contender).sort()).toEqual(['TensorFlow.js (WebGPU)', 'onnxruntime-web (WASM)', 'resgpu (WebGPU)']);
  for (const r of ran) {
    expect(r.checkedAgainst, r.contender).toBe('CPU reference');
    // f32 engines against float64 through 20 layers: measured about 1e-5 here; 1e-3 leaves room for summation order.
    expect(r.maxError, r.contender).toBeLessThan(1e-3);
    expect(r.wrong, r.contender).toBe(false);
    expect(r.gflops, r.contender).toBeGreaterThan(0);
  }
}, 600_000);
