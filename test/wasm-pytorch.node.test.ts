import { afterEach, describe, expect, test } from 'vitest';
import { loadModel } from '../src/index.js';
import { wasmTuning } from '../src/runtime/wasm/wasm-model.js';
import { expectClose } from './helpers/compare.js';
import { hasFile, torchCases, torchFile } from './helpers/torch-cases.js';

/**
 * Parity with real PyTorch on the WebAssembly backend: the files test/python/make_torch_cases.py
 * made and ran with PyTorch 1.13 (.pt, the exporter's .safetensors, ONNX at opsets 11 and 17),
 * on one thread and on two. Same tolerance as WebGPU (test/helpers/compare.ts): PyTorch
 * computes in f32 with BatchNorm unfolded, resgpu in f32 with it folded in float64.
 */
const defaultTuning = { ...wasmTuning };
afterEach(() => Object.assign(wasmTuning, defaultTuning));

describe.each(torchCases())('PyTorch case $name on wasm', (c) => {
  const files = [`${c.name}.pt`, `${c.name}.safetensors`, `${c.name}.opset11.onnx`, `${c.name}.opset17.onnx`].filter(hasFile);
  test.each(files.flatMap((f) => [[f, 1], [f, 2]] as [string, number][]))('%s, %i thread(s), matches PyTorch', async (file, threads) => {
    wasmTuning.minFlopsForThreads = threads > 1 ? 0 : Infinity;
    const model = await loadModel(torchFile(file), { backend: 'wasm', threads });
    expect([model.backend, model.inputSize, model.outputSize]).toEqual(['wasm', c.input_size, c.output_size]);
    expectClose(await model.run(Float32Array.from(c.x)), c.y);
    await model.dispose();
  });
});

test('the bundled example reproduces the PyTorch logits recorded when it was trained, with no options', async () => {
  const { readFileSync } = await import('node:fs');
  const example = (name: string) => readFileSync(new URL(`../examples/${name}`, import.meta.url));
  const recorded = JSON.parse(example('breast_cancer.test.json').toString()) as { inputs: number[][]; torch_logits: number[][] };
  for (const file of ['breast_cancer.pt', 'breast_cancer.safetensors']) {
    const model = await loadModel(example(file)); // Node has no navigator.gpu: 'auto' picks wasm
    expect(model.backend).toBe('wasm');
    expectClose(await model.run(Float32Array.from(recorded.inputs.flat())), recorded.torch_logits.flat());
    await model.dispose();
  }
});
