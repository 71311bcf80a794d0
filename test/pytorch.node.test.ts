import { beforeAll, describe, expect, test } from 'vitest';
import { GraphError, loadModel, ModelFormatError } from '../src/index.js';
import { expectClose, F16_TOLERANCE, maxRelativeError } from './helpers/compare.js';
import { nodeDevice } from './helpers/node-gpu.js';
import { hasFile, torchCases, torchFile } from './helpers/torch-cases.js';

/**
 * Parity with real PyTorch: models made, saved (torch.save(state_dict) and the exporter's
 * .safetensors) and run by PyTorch 1.13 at test time; resgpu loads the files with no other
 * input and must compute what model.eval()(x) did. Same tolerance as against the CPU
 * reference (test/helpers/compare.ts): PyTorch computes in f32 with BatchNorm unfolded.
 */
let device: GPUDevice;
beforeAll(async () => {
  device = await nodeDevice();
});

describe.each(torchCases())('PyTorch case $name', (c) => {
  const files = [`${c.name}.pt`, `${c.name}.safetensors`].filter(hasFile);

  test.each(files)('%s on WebGPU matches PyTorch, two dispatches per block', async (file) => {
    const model = await loadModel(torchFile(file), { device });
    expect([model.inputSize, model.outputSize]).toEqual([c.input_size, c.output_size]);
    expectClose(await model.run(Float32Array.from(c.x)), c.y);
    expect(model.describe().dispatches).toHaveLength(2 * c.blocks + (c.head ? 1 : 0));
    await model.dispose();
  });

  test.each(files)('%s with f16 weights stays within the f16 tolerance of PyTorch', async (file) => {
    const model = await loadModel(torchFile(file), { device, precision: 'f16' });
    const y = await model.run(Float32Array.from(c.x));
    expect(maxRelativeError(y, c.y)).toBeGreaterThan(0); // the weights really were rounded
    expectClose(y, c.y, F16_TOLERANCE);
    await model.dispose();
  });

  test.each(files)('%s on the CPU reference matches PyTorch', async (file) => {
    const model = await loadModel(torchFile(file), { backend: 'cpu' });
    expectClose(await model.run(Float32Array.from(c.x)), c.y);
  });
});

describe('hostile and broken PyTorch files', () => {
  const cpu = { backend: 'cpu' } as const;
  const cases: [string, typeof ModelFormatError | typeof GraphError, RegExp][] = [
    ['os_system', ModelFormatError, /global "(posix|os)\.system"/],
    ['builtins_eval', ModelFormatError, /global "__builtin__\.eval" \(builtins\.eval in Python 3\)/],
    ['subprocess_popen', ModelFormatError, /global "[^"]*Popen" \(subprocess\.Popen in Python 3\)/],
    ['truncated_zip', ModelFormatError, /The PyTorch file is truncated/],
    ['no_data_pkl', ModelFormatError, /no data\.pkl/],
    ['short_storage', ModelFormatError, /has 3 bytes, but \d+ F32 elements need/],
    ['truncated_pickle', ModelFormatError, /truncated at byte/],
    ['deep_nesting', ModelFormatError, /nests deeper than 1000/],
    ['unknown_opcode', ModelFormatError, /opcode 0xff/],
    ['legacy', ModelFormatError, /legacy PyTorch file.*Re-save/],
    ['uninferable', GraphError, /Cannot infer the graph.*"1".*BatchNorm/],
    ['shape_mismatch', GraphError, /"head\.weight" has shape \[2, 7\].*needs \[2, 4\]/],
  ];
  test.each(cases)('%s is refused with a typed error', async (name, type, message) => {
    const failure = loadModel(torchFile(`bad/${name}.pt`), cpu);
    await expect(failure).rejects.toBeInstanceOf(type);
    await expect(failure).rejects.toThrow(message);
  });

  test('a refused file leaves nothing on the GPU', async () => {
    const { trackDevice } = await import('./helpers/track.js');
    const tracker = trackDevice(device);
    await expect(loadModel(torchFile('bad/os_system.pt'), { device })).rejects.toThrow(ModelFormatError);
    expect(tracker.liveBuffers()).toBe(0);
    tracker.restore();
  });
});

test('the bundled example (.pt and .safetensors) reproduces the PyTorch logits recorded when it was trained', async () => {
  const { readFileSync } = await import('node:fs');
  const example = (name: string) => readFileSync(new URL(`../examples/${name}`, import.meta.url));
  const recorded = JSON.parse(example('breast_cancer.test.json').toString()) as { inputs: number[][]; torch_logits: number[][] };
  for (const file of ['breast_cancer.pt', 'breast_cancer.safetensors']) {
    const model = await loadModel(example(file), { device });
    const y = await model.run(Float32Array.from(recorded.inputs.flat()));
    expectClose(y, recorded.torch_logits.flat());
    const argmax = (v: ArrayLike<number>, r: number) => (v[2 * r + 1]! > v[2 * r]! ? 1 : 0);
    recorded.torch_logits.forEach((logits, r) => expect(argmax(y, r)).toBe(argmax(logits, 0)));
    await model.dispose();
  }
});
