import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DIGITS_MODEL_DIR } from '../examples/digits/model.mjs';
import { CHROMIUM, CHROMIUM_ARGS } from './helpers/chrome.js';
import { scaledError } from './helpers/compare.js';

/**
 * The digits example (examples/digits) as `npm run example:digits` serves it, in headless
 * Chromium: a digit drawn with pointer events is classified, the clear button clears, and every
 * held-out test image of train.py gives PyTorch's class and probabilities. Twice: with WebGPU
 * forced (?backend=webgpu), and with backend 'auto', which picks WebAssembly on this software
 * adapter. Screenshots: test/.generated/digits-<backend>.png.
 */
const ROOT = resolve(import.meta.dirname, '..');
interface HeldOut {
  pixels: number[][];
  labels: number[];
  logits: number[][];
  probabilities: number[][];
  accuracy: number;
}
const heldOut = JSON.parse(readFileSync(join(DIGITS_MODEL_DIR, 'digits.test.json'), 'utf8')) as HeldOut;

let server: ChildProcess;
let browser: Browser;
let url: string;
beforeAll(async () => {
  server = spawn(process.execPath, ['examples/digits/server.mjs'], { cwd: ROOT, env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
  let printed = '';
  url = await new Promise<string>((ok, fail) => {
    server.stdout!.on('data', (d: Buffer) => {
      printed += d;
      const m = /resgpu digits: (http\S+)/.exec(printed);
      if (m) ok(m[1]!);
    });
    server.on('exit', (code) => fail(new Error(`examples/digits/server.mjs exited (${code}) before printing its URL`)));
  });
  browser = await puppeteer.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}, 300_000);
afterAll(async () => {
  await browser?.close();
  server?.kill();
});

async function open(query: string): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewport({ width: 900, height: 640, hasTouch: true });
  await page.goto(`${url}${query}`);
  await page.waitForFunction('window.digits && (window.digits.ready || window.digits.error)', { timeout: 120_000 });
  return page;
}

/** A stroke through these points (pad pixels, the pad being 280×280 CSS pixels), with real mouse or touch events (pointer events on the page). */
async function stroke(page: Page, points: [number, number][], via: 'mouse' | 'touch') {
  const box = (await (await page.$('#pad'))!.boundingBox())!;
  const [x0, y0] = points[0]!;
  if (via === 'touch') {
    await page.touchscreen.touchStart(box.x + x0, box.y + y0);
    for (const [x, y] of points.slice(1)) await page.touchscreen.touchMove(box.x + x, box.y + y);
    await page.touchscreen.touchEnd();
    return;
  }
  await page.mouse.move(box.x + x0, box.y + y0);
  await page.mouse.down();
  for (const [x, y] of points.slice(1)) await page.mouse.move(box.x + x, box.y + y, { steps: 2 });
  await page.mouse.up();
}
const ONE: [number, number][] = Array.from({ length: 11 }, (_, i) => [140, 40 + 20 * i]);
const ZERO: [number, number][] = Array.from({ length: 41 }, (_, i) => [140 + 65 * Math.sin((i / 40) * 2 * Math.PI), 140 - 100 * Math.cos((i / 40) * 2 * Math.PI)]);

/** What the page shows: the bold (top) label, the prediction line, the bar values. */
const shown = (page: Page) =>
  page.evaluate(() => ({
    top: Array.from(document.querySelectorAll('#bars .label.top')).map((e) => e.textContent),
    topCells: document.querySelectorAll('#bars .top').length,
    line: document.querySelector('#prediction')!.textContent,
    values: Array.from(document.querySelectorAll('#bars .value')).map((e) => e.textContent),
  }));

// PyTorch's float32 logits against WebGPU's (BatchNorm folded, another summation order): 2e-4 of
// the output scale, as the torchvision ResNets (test/vision-webgpu.node.test.ts). Probabilities:
// softmax moves each by at most half the largest logit change, so 2e-4 of a scale of at most
// ~25 bounds them by 2.5e-3; measured far below (the test prints it).
const LOGIT_TOLERANCE = 2e-4;
const PROBABILITY_TOLERANCE = 2.5e-3;

describe.each([
  ['webgpu', '?backend=webgpu'],
  ['auto', ''],
])('the digits page, backend %s', (name, query) => {
  let page: Page;
  beforeAll(async () => {
    page = await open(query);
  }, 300_000);
  afterAll(async () => {
    await page?.close();
  });

  test('says where it runs and why', async () => {
    const r = await page.evaluate(() => ({ why: window.digits.why, line: document.querySelector('#backend')!.textContent, d: window.digits.description! }));
    if (name === 'webgpu') {
      expect(r.d.backend).toBe('webgpu');
      expect(r.why).toMatch(/^Running on WebGPU \(google swiftshader, a software adapter: a CPU\): forced by \?backend=webgpu\.$/);
      // Stem, three BasicBlocks of 2 dispatches (the second with its projection in the same dispatch), global pooling + fc (one).
      expect(r.d.dispatches).toHaveLength(1 + 3 * 2 + 1);
    } else {
      expect(r.d.backend).toBe('wasm');
      expect(r.why).toMatch(/backend 'auto' chose it because the WebGPU adapter \(google swiftshader\) is a software one/);
    }
    expect(r.line).toContain(r.why);
  });

  test('a 1 and a 0 drawn with the mouse, a 1 by touch, are classified as such, shown as bars; clear clears', async () => {
    const results: string[] = [];
    for (const [digit, points, via] of [['1', ONE, 'mouse'], ['0', ZERO, 'mouse'], ['1', ONE, 'touch']] as const) {
      await page.click('#clear');
      await stroke(page, points, via);
      const p = await page.evaluate(() => window.digits.classifyPad());
      console.log(`digits (${name}): a ${digit} drawn by ${via}: ${p?.label}, p = ${p?.probabilities[Number(digit)]?.toFixed(3)}`);
      results.push(p!.label);
      const s = await shown(page);
      expect(s.top).toEqual([digit]);
      expect(s.topCells).toBe(3); // the label, bar and value cells of its row
      expect(s.line).toBe(`Prediction: ${digit}`);
      expect(Math.abs(s.values.reduce((a, v) => a + Number(v), 0) - 1)).toBeLessThan(0.006); // ten values rounded to 3 decimals
      expect(p!.probabilities[Number(digit)]).toBeGreaterThan(0.5);
      if (digit === '0' && via === 'mouse') {
        const file = join(ROOT, `test/.generated/digits-${name}.png`);
        mkdirSync(join(ROOT, 'test/.generated'), { recursive: true });
        await page.screenshot({ path: file });
        console.log(`digits page (${name}, a drawn 0): ${file}`);
      }
    }
    expect(results).toEqual(['1', '0', '1']);
    await page.click('#clear');
    const s = await shown(page);
    expect(s.topCells).toBe(0);
    expect(s.values.every((v) => v === '')).toBe(true);
    expect(await page.evaluate(() => window.digits.classifyPad())).toBeNull();
  });

  test(`every held-out image (${heldOut.labels.length}) gets PyTorch's class and probabilities`, async () => {
    const got = await page.evaluate((pixels) => window.digits.classifyPixels(pixels), heldOut.pixels);
    expect(got).toHaveLength(heldOut.labels.length);
    let worstLogit = 0;
    let worstProbability = 0;
    got.forEach((g, i) => {
      const want = heldOut.probabilities[i]!;
      expect(g.probabilities.indexOf(Math.max(...g.probabilities)), `image ${i}`).toBe(want.indexOf(Math.max(...want)));
      worstLogit = Math.max(worstLogit, scaledError(g.logits, heldOut.logits[i]!));
      worstProbability = Math.max(worstProbability, ...g.probabilities.map((p, k) => Math.abs(p - want[k]!)));
    });
    console.log(`digits (${name}): worst logit error ${worstLogit.toExponential(2)} of the scale, worst probability error ${worstProbability.toExponential(2)}`);
    expect(worstLogit).toBeLessThanOrEqual(LOGIT_TOLERANCE);
    expect(worstProbability).toBeLessThanOrEqual(PROBABILITY_TOLERANCE);
    const correct = got.filter((g, i) => Number(g.label) === heldOut.labels[i]).length;
    expect(correct / got.length).toBeCloseTo(heldOut.accuracy, 10);
  });
});
