import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadModel } from '../src/index.js';
import { MODEL_CASES } from './helpers/cases.js';
import { openChromePage, type ChromePage } from './helpers/chrome.js';
import { expectClose } from './helpers/compare.js';
import { makeRandomModel, randomInput } from './helpers/random-model.js';
import { hasFile, torchCases, torchFile } from './helpers/torch-cases.js';

/**
 * The built bundle in headless Chromium: every model case loaded by URL with
 * loadModel(url, { backend: 'webgpu' }) on the page's WebGPU (SwiftShader: 'auto' would pick
 * wasm there, which test/wasm-chrome.test.ts covers), compared in Node with the CPU reference.
 */
let chrome: ChromePage;
beforeAll(async () => {
  chrome = await openChromePage();
});
afterAll(async () => {
  await chrome?.close();
});

describe.each(MODEL_CASES)('Chrome: $name', ({ name, config, batches }) => {
  test('matches the CPU reference at every batch, two dispatches per block', async () => {
    const { bytes } = makeRandomModel(config);
    const url = chrome.serve(`${name.replace(/\W+/g, '-')}.safetensors`, bytes);
    const inputs = batches.map((b) => Array.from(randomInput(b, config.input, b)));
    const result = await chrome.page.evaluate(
      async (url, inputs) => {
        const model = await window.resgpu.loadModel(url, { backend: 'webgpu' });
        const outputs = [];
        for (const x of inputs) outputs.push(Array.from(await model.run(new Float32Array(x))));
        const description = model.describe();
        await model.dispose();
        return { outputs, description };
      },
      url,
      inputs,
    );
    const cpu = await loadModel(bytes, { backend: 'cpu' });
    for (const [i, x] of inputs.entries()) expectClose(result.outputs[i]!, await cpu.run(new Float32Array(x)));
    const blocks = config.blocks.length;
    const plain = (config.stem ? 1 : 0) + (config.head ? 1 : 0);
    expect(result.description.dispatches).toHaveLength(2 * blocks + plain);
    expect(result.description.backend).toBe('webgpu');
  });
});

test('Chrome: concurrent runs, typed errors and dispose behave as in Node', async () => {
  const { bytes } = makeRandomModel({ input: 6, blocks: [{ hidden: 5, bn: true }], head: { out: 2 } });
  const url = chrome.serve('errors.safetensors', bytes);
  const inputs = Array.from({ length: 8 }, (_, i) => Array.from(randomInput(i + 1, 6, i)));
  const r = await chrome.page.evaluate(
    async (url, inputs) => {
      const { loadModel } = window.resgpu;
      const errorOf = async (f: () => Promise<unknown>) => f().then(() => 'no error', (e: Error & { code?: string }) => `${e.name}:${e.code}`);
      const model = await loadModel(url, { backend: 'webgpu' });
      const outputs = (await Promise.all(inputs.map((x) => model.run(new Float32Array(x))))).map((y) => Array.from(y));
      const badLength = await errorOf(() => model.run(new Float32Array(7)));
      await model.dispose();
      const afterDispose = await errorOf(() => model.run(new Float32Array(6)));
      const badFile = await errorOf(() => loadModel(new Uint8Array([1, 2, 3])));
      const notFound = await errorOf(() => loadModel(`${url}.missing`));
      const adapter = (await navigator.gpu.requestAdapter())?.info.architecture;
      return { outputs, badLength, afterDispose, badFile, notFound, adapter };
    },
    url,
    inputs,
  );
  const cpu = await loadModel(bytes, { backend: 'cpu' });
  for (const [i, x] of inputs.entries()) expectClose(r.outputs[i]!, await cpu.run(new Float32Array(x)));
  expect(r.badLength).toBe('InputError:INVALID_INPUT');
  expect(r.afterDispose).toBe('DisposedError:DISPOSED');
  expect(r.badFile).toBe('ModelFormatError:MODEL_FORMAT');
  expect(r.notFound).toBe('FetchError:FETCH');
  expect(r.adapter).toBeTruthy();
});

describe.each(torchCases())('Chrome: PyTorch case $name', (c) => {
  const files = [`${c.name}.pt`, `${c.name}.safetensors`, `${c.name}.opset11.onnx`, `${c.name}.opset17.onnx`].filter(hasFile);
  test.each(files)('%s loaded by URL matches PyTorch', async (file) => {
    const url = chrome.serve(file, torchFile(file));
    const y = await chrome.page.evaluate(
      async (url, x) => {
        const model = await window.resgpu.loadModel(url, { backend: 'webgpu' });
        const y = Array.from(await model.run(new Float32Array(x)));
        await model.dispose();
        return y;
      },
      url,
      c.x,
    );
    expectClose(y, c.y);
  });
});

test('Chrome: a hostile pickle is refused by name', async () => {
  const url = chrome.serve('os_system.pt', torchFile('bad/os_system.pt'));
  const message = await chrome.page.evaluate(async (url) => {
    return window.resgpu.loadModel(url).then(() => 'loaded', (e: Error) => `${e.name}: ${e.message}`);
  }, url);
  expect(message).toMatch(/^ModelFormatError: Refused to load: the pickle names the global "(posix|os)\.system"/);
});

test('Chrome: NaN and ±Inf inputs give PyTorch\'s outputs; rejectNonFinite and an aborted load are typed errors', async () => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { TORCH_CASES_DIR } = await import('./global-setup.js');
  const dir = join(TORCH_CASES_DIR, 'nonfinite');
  const c = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as { x: (number | string)[]; y: (number | string)[] };
  const url = chrome.serve('nonfinite.pt', readFileSync(join(dir, 'model.pt')));
  // NaN and Infinity travel as strings: the page's arguments and results are JSON.
  const r = await chrome.page.evaluate(
    async (url, x) => {
      const { loadModel } = window.resgpu;
      const decode = (v: number | string) => (typeof v === 'number' ? v : Number(v.replace('inf', 'Infinity')));
      const model = await loadModel(url);
      const y = Array.from(await model.run(Float32Array.from(x.map(decode)))).map((v) => (Number.isFinite(v) ? v : String(v)));
      await model.dispose();
      const strict = await loadModel(url, { rejectNonFinite: true });
      const refused = await strict.run(Float32Array.from(x.map(decode))).then(() => 'ran', (e: Error) => `${e.name}: ${e.message}`);
      await strict.dispose();
      const controller = new AbortController();
      const loading = loadModel(url, { signal: controller.signal });
      controller.abort();
      const aborted = await loading.then(() => 'loaded', (e: Error & { code?: string }) => `${e.name}:${e.code}`);
      return { y, refused, aborted };
    },
    url,
    c.x,
  );
  const decode = (v: number | string) => (typeof v === 'number' ? v : Number(v.replace('inf', 'Infinity')));
  const expected = c.y.map(decode);
  r.y.map(decode).forEach((v, i) => {
    const e = expected[i]!;
    if (Number.isNaN(e)) expect(v).toBeNaN();
    else if (!Number.isFinite(e)) expect(v).toBe(e);
    else expect(Math.abs(v - e)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(e))); // compare.ts's tolerance
  });
  expect(r.refused).toMatch(/^InputError: run\(\) input row 1, column 2 .* is NaN/);
  expect(r.aborted).toBe('AbortError:ABORTED');
});
