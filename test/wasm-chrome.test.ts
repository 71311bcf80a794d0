import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadModel } from '../src/index.js';
import { MODEL_CASES } from './helpers/cases.js';
import { openChromePage, type ChromePage } from './helpers/chrome.js';
import { expectClose } from './helpers/compare.js';
import { makeRandomModel, randomInput, type ModelConfig } from './helpers/random-model.js';
import { hasFile, torchCases, torchFile } from './helpers/torch-cases.js';

/**
 * The built bundle's WebAssembly backend in headless Chromium, on a cross-origin isolated page
 * (so threads can share memory), compared in Node with the CPU reference and with PyTorch; and
 * a page whose navigator.gpu is removed before the bundle loads, where loadModel(url) with no
 * options must just work. Same tolerance as everywhere (test/helpers/compare.ts).
 */
let chrome: ChromePage;
beforeAll(async () => {
  chrome = await openChromePage();
});
afterAll(async () => {
  await chrome?.close();
});

/** Loads by URL in the page, runs every input, returns the outputs and what the model says of itself. */
async function runInPage(url: string, inputs: number[][], options: { backend?: 'wasm'; threads?: number }, page = chrome.page) {
  return page.evaluate(
    async (url, inputs, options) => {
      const model = await window.resgpu.loadModel(url, options);
      const outputs = [];
      for (const x of inputs) outputs.push(Array.from(await model.run(new Float32Array(x))));
      const m = model as unknown as { threads: number; simd: string };
      const result = { outputs, backend: model.backend, described: model.describe().backend, threads: m.threads, simd: m.simd };
      await model.dispose();
      return result;
    },
    url,
    inputs,
    options,
  );
}

async function expectMatchesReference(name: string, config: ModelConfig, batches: number[], threads: number) {
  const { bytes } = makeRandomModel(config);
  const url = chrome.serve(`${name.replace(/\W+/g, '-')}.safetensors`, bytes);
  const inputs = batches.map((b) => Array.from(randomInput(b, config.input, b)));
  const r = await runInPage(url, inputs, { backend: 'wasm', threads });
  const cpu = await loadModel(bytes, { backend: 'cpu' });
  for (const [i, x] of inputs.entries()) expectClose(r.outputs[i]!, await cpu.run(new Float32Array(x)));
  expect([r.backend, r.described, r.threads, r.simd]).toEqual(['wasm', 'wasm', threads, 'relaxed']); // Chromium ≥ 114 has relaxed SIMD
}

describe.each([1, 2])('Chrome wasm, %i thread(s)', (threads) => {
  test.each(MODEL_CASES)('$name matches the CPU reference', ({ name, config, batches }) => expectMatchesReference(name, config, batches, threads));

  test('odd widths 1, 3, 37, 255, 1000 at batches 1 to 5, 17, 64, 255, 513 (the larger ones threaded)', () =>
    expectMatchesReference(
      'odd',
      {
        input: 37,
        blocks: [{ hidden: 255, out: 3, bn: true }, { hidden: 1, bn: true }, { hidden: 1000, out: 37, bn: true }, { hidden: 37, projection: true }],
        head: { out: 1, bn: true },
        seed: 11,
      },
      [1, 2, 3, 4, 5, 17, 64, 255, 513],
      threads,
    ));
});

test('Chrome wasm: concurrent runs, typed errors and dispose behave as in Node', async () => {
  const { bytes } = makeRandomModel({ input: 6, blocks: [{ hidden: 5, bn: true }], head: { out: 2 } });
  const url = chrome.serve('wasm-errors.safetensors', bytes);
  const inputs = Array.from({ length: 8 }, (_, i) => Array.from(randomInput(i + 1, 6, i)));
  const r = await chrome.page.evaluate(
    async (url, inputs) => {
      const { loadModel } = window.resgpu;
      const errorOf = async (f: () => Promise<unknown>) => f().then(() => 'no error', (e: Error & { code?: string }) => `${e.name}:${e.code}`);
      const model = await loadModel(url, { backend: 'wasm', threads: 2 });
      const outputs = (await Promise.all(inputs.map((x) => model.run(new Float32Array(x))))).map((y) => Array.from(y));
      const badLength = await errorOf(() => model.run(new Float32Array(7)));
      await model.dispose();
      const afterDispose = await errorOf(() => model.run(new Float32Array(6)));
      return { outputs, badLength, afterDispose };
    },
    url,
    inputs,
  );
  const cpu = await loadModel(bytes, { backend: 'cpu' });
  for (const [i, x] of inputs.entries()) expectClose(r.outputs[i]!, await cpu.run(new Float32Array(x)));
  expect([r.badLength, r.afterDispose]).toEqual(['InputError:INVALID_INPUT', 'DisposedError:DISPOSED']);
});

describe('Chrome without WebGPU (navigator.gpu removed before the bundle loads)', () => {
  let page: Awaited<ReturnType<ChromePage['newPage']>>;
  beforeAll(async () => {
    page = await chrome.newPage(() => {
      delete (Navigator.prototype as { gpu?: unknown }).gpu;
    });
  });

  test('the page has no navigator.gpu, and the bundled example runs with loadModel(url) alone', async () => {
    expect(await page.evaluate(() => 'gpu' in navigator)).toBe(false);
    const example = (name: string) => readFileSync(new URL(`../examples/${name}`, import.meta.url));
    const recorded = JSON.parse(example('breast_cancer.test.json').toString()) as { inputs: number[][]; torch_logits: number[][] };
    for (const file of ['breast_cancer.pt', 'breast_cancer.safetensors']) {
      const r = await runInPage(chrome.serve(file, example(file)), [recorded.inputs.flat()], {}, page);
      expect(r.backend).toBe('wasm');
      expectClose(r.outputs[0]!, recorded.torch_logits.flat());
    }
  });

  describe.each(torchCases())('PyTorch case $name', (c) => {
    const files = [`${c.name}.pt`, `${c.name}.safetensors`, `${c.name}.opset17.onnx`].filter(hasFile);
    test.each(files)('%s loaded by URL with no options matches PyTorch', async (file) => {
      const r = await runInPage(chrome.serve(`nogpu-${file}`, torchFile(file)), [c.x], {}, page);
      expect(r.backend).toBe('wasm');
      expectClose(r.outputs[0]!, c.y);
    });
  });
});
