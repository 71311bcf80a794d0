import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { KernelVariant, LoadOptions } from '../src/index.js';
import { KERNEL_FAMILIES } from '../src/kernels/registry.js';
import { streamModel } from '../src/loader/index.js';
import { referenceForward } from '../src/runtime/reference/forward.js';
import { FAMILY_CASES_DIR } from './global-setup.js';
import { openChromePage, type ChromePage } from './helpers/chrome.js';
import { expectClose, GPU_TOLERANCE } from './helpers/compare.js';
import { halfWeightsForward } from './helpers/fused-reference.js';
import { ACTIVATIONS, actName, makeRandomGraph } from './helpers/random-graph.js';
import { randomInput } from './helpers/random-model.js';

/**
 * The op graph in headless Chromium (the built bundle, on the page's WebGPU and WebAssembly):
 * every family of the literature from the exporter and from ONNX (opsets 13 and 17) against
 * PyTorch, with the dispatch counts of the fusion pass; and the kernel matrix's activation slice
 * (every GEMM kernel forced × f32/f16 × every activation) against the float64 reference.
 */
let chrome: ChromePage;
beforeAll(async () => {
  chrome = await openChromePage();
});
afterAll(async () => {
  await chrome?.close();
});

/** Loads a served file in the page with these options (a shared device for WebGPU), runs each input, describes it. */
async function runInPage(url: string, options: LoadOptions & { onGpu: boolean }, inputs: number[][]) {
  return chrome.page.evaluate(
    async (url, { onGpu, ...options }, inputs) => {
      if (onGpu && !window.sharedDevice) window.sharedDevice = await (await navigator.gpu.requestAdapter())!.requestDevice();
      const model = await window.resgpu.loadModel(url, onGpu ? { ...options, backend: 'webgpu', device: window.sharedDevice } : options);
      const outputs = [];
      for (const x of inputs) outputs.push(Array.from(await model.run(new Float32Array(x))));
      const dispatches = model.describe().dispatches.map((d) => d.variant);
      await model.dispose();
      return { outputs, dispatches, backend: model.backend };
    },
    url,
    options,
    inputs,
  );
}

interface FamilyCase {
  name: string;
  dispatches: string;
  files: { safetensors: string; onnx: Record<string, string> };
  inputs: { x: number[]; float32: number[] };
}
const families = (JSON.parse(readFileSync(join(FAMILY_CASES_DIR, 'cases.json'), 'utf8')) as { families: FamilyCase[] }).families;

describe.each(families)('Chrome: $name', (c) => {
  test.each([c.files.safetensors, ...Object.values(c.files.onnx)])('%s matches PyTorch on WebGPU, WebAssembly and the reference', async (file) => {
    const url = chrome.serve(file, new Uint8Array(readFileSync(join(FAMILY_CASES_DIR, file))));
    for (const options of [{ onGpu: true }, { onGpu: false, backend: 'wasm' as const }, { onGpu: false, backend: 'cpu' as const }]) {
      const r = await runInPage(url, options, [c.inputs.x]);
      expectClose(r.outputs[0]!, c.inputs.float32, GPU_TOLERANCE);
      if (options.onGpu) expect(r.dispatches).toHaveLength(Number(c.dispatches));
    }
  });
});

describe.each(Object.keys(KERNEL_FAMILIES) as KernelVariant[])('Chrome: %s forced', (kernel) => {
  test.each(ACTIVATIONS.map((a) => [actName(a), a] as const))('%s in the GEMM epilogue, f32 and f16 weights', async (name, act) => {
    const m = makeRandomGraph('probe', act);
    const graph = await streamModel(m.bytes).complete();
    const url = chrome.serve(`probe-${name}.safetensors`, m.bytes);
    const batches = [1, 5];
    const inputs = batches.map((b) => Array.from(randomInput(b, m.inputSize, b)));
    for (const precision of ['f32', 'f16'] as const) {
      const r = await runInPage(url, { onGpu: true, kernel, precision }, inputs);
      expect(new Set(r.dispatches)).toEqual(new Set([kernel]));
      inputs.forEach((x, i) => expectClose(r.outputs[i]!, precision === 'f32' ? referenceForward(graph, x, batches[i]!) : halfWeightsForward(graph, x, batches[i]!)));
    }
  });
});
