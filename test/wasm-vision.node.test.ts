import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { afterEach, describe, expect, test } from 'vitest';
import { encodeSafetensors, GraphError, loadModel } from '../src/index.js';
import { streamModel } from '../src/loader/index.js';
import { referenceForward } from '../src/runtime/reference/forward.js';
import { detectSimd, type SimdLevel } from '../src/runtime/wasm/simd.js';
import { wasmTuning } from '../src/runtime/wasm/wasm-model.js';
import { VISION_CASES_DIR } from './global-setup.js';
import { expectClose, GPU_TOLERANCE, pyFloats, pyNumber, scaledError } from './helpers/compare.js';
import { graphBuilder } from './helpers/graph-builder.js';
import { makeRandomCnn, type CnnFamily } from './helpers/random-cnn.js';

/**
 * Image networks on backend: 'wasm' (conv and pool steps, image.wat), on the builds this engine
 * runs (relaxed SIMD's fused multiply-add where it validates, and plain SIMD) and on 1 and 2 threads (every run threaded):
 *  - the random residual CNNs of helpers/random-cnn.ts (odd channels, odd sizes, strides 1 and 2,
 *    paddings 0–2, a dilated conv, a downsample projection, max pooling with padding, average
 *    pooling with ceil_mode and count_include_pad off, BatchNorms folded and not, an image
 *    output) against the float64 reference, rows 1 to 5; NaN in gives NaN exactly where the
 *    reference has it;
 *  - torchvision's resnet18, a grayscale BasicBlock and a Bottleneck ResNet from
 *    test/python/make_vision_cases.py (bare .pt and ONNX opset 17), and its
 *    model of the other image ops, against PyTorch (2e-4 of the output scale, as on WebGPU);
 *    PyTorch's pooling of NaN and ±Inf, exactly;
 *  - deterministic mode: a row's bits alone, in a batch of 5 (in one chunk and in chunks of one
 *    row), on 1 and 2 threads.
 */
const defaultTuning = { ...wasmTuning };
afterEach(() => Object.assign(wasmTuning, defaultTuning));

// The plain build everywhere; the relaxed one (fused multiply-add) too where this engine validates
// it. Node 20's V8 does behind a flag, set here in this test's own process (vitest forks one per
// file) so that the relaxed build is checked too; browsers with relaxed SIMD run it by default.
setFlagsFromString('--experimental-wasm-relaxed-simd');
const BUILDS: SimdLevel[] = detectSimd() === 'relaxed' ? ['relaxed', 'plain'] : ['plain'];
const THREADS = [1, 2];

function randomInput(rows: number, width: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: rows * width }, () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 4 - 2);
}

describe.each(['basic', 'bottleneck'] as CnnFamily[])('random CNN %s', (family) => {
  test.each(BUILDS)('%s SIMD, 1 and 2 threads, rows 1 to 5, matches the float64 reference; NaN where it has NaN', async (simd) => {
    wasmTuning.simd = simd;
    wasmTuning.minFlopsForThreads = 0;
    const m = makeRandomCnn(family);
    const graph = await streamModel(m.bytes).complete();
    for (const threads of THREADS) {
      const model = await loadModel(m.bytes, { backend: 'wasm', threads });
      for (const rows of [1, 2, 5]) {
        const x = randomInput(rows, m.inputSize, rows + threads);
        // f32 sums of at most 13·9 products per layer over a few layers (compare.ts GPU_TOLERANCE).
        expectClose(await model.run(x), referenceForward(graph, x, rows), GPU_TOLERANCE);
      }
      const x = randomInput(3, m.inputSize, 7);
      x[m.inputSize + 40] = Number.NaN; // row 1 only
      const y = await model.run(x);
      const expected = referenceForward(graph, x, 3);
      expect([...y].map((v, i) => Number.isNaN(v) === Number.isNaN(expected[i]!))).not.toContain(false);
      expect([...y].some(Number.isNaN)).toBe(true);
      await model.dispose();
    }
  });
});

interface Network {
  name: string;
  input_shape: number[];
  files: { pt?: string; safetensors?: string; onnx: Record<string, string> };
  inputs: { rows: number; x: (number | string)[]; float32: (number | string)[] };
}
interface Cases {
  networks: Network[];
  pooling: { x: (number | string)[]; shape: number[]; ops: { op: string; attrs: Record<string, unknown>; float32: (number | string)[] }[] };
}
const cases = (): Cases => JSON.parse(readFileSync(join(VISION_CASES_DIR, 'cases.json'), 'utf8')) as Cases;
const file = (name: string) => readFileSync(join(VISION_CASES_DIR, name));

describe.each(cases().networks)('$name', (c) => {
  // The bare .pt (or the exporter's file), and torch.onnx.export's: the same op graph from two loaders.
  const names = [c.files.pt ?? c.files.safetensors!, c.files.onnx['17']].filter((n): n is string => n !== undefined);
  test.each(BUILDS.flatMap((b) => names.map((n) => [n, b] as const)))('%s, %s SIMD, 1 and 2 threads, matches PyTorch', async (name, simd) => {
    wasmTuning.simd = simd;
    wasmTuning.minFlopsForThreads = 0;
    for (const threads of THREADS) {
      const model = await loadModel(file(name), { backend: 'wasm', threads, ...(name.endsWith('.pt') && { inputShape: c.input_shape }) });
      const y = await model.run(pyFloats(c.inputs.x));
      // As on WebGPU: PyTorch's f32 model, BatchNorms unfolded, against ours folded in float64 then rounded to f32.
      expect(scaledError(y, c.inputs.float32.map(pyNumber))).toBeLessThanOrEqual(2e-4);
      await model.dispose();
    }
  });
});

describe('pooling of NaN and ±Inf on WebAssembly, as PyTorch', () => {
  test.each(cases().pooling.ops)('$op', async (p) => {
    const graph = { format: 'resgpu-graph', version: 2, inputs: [{ name: 'x', shape: cases().pooling.shape }], outputs: ['y'], nodes: [{ op: p.op, inputs: ['x'], output: 'y', attrs: p.attrs }] };
    const model = await loadModel({ weights: encodeSafetensors([]), graph: graph as never }, { backend: 'wasm', threads: 1 });
    const y = await model.run(pyFloats(cases().pooling.x));
    expect([...y].map(String)).toEqual(p.float32.map((v) => String(pyNumber(v))));
    await model.dispose();
  });
});

test.each(BUILDS)('deterministic, %s SIMD: a row has the same bits alone and in a batch of 5 (one chunk, or chunks of a row), on 1 and 2 threads', async (simd) => {
  wasmTuning.simd = simd;
  wasmTuning.minFlopsForThreads = 0;
  for (const family of ['basic', 'bottleneck'] as CnnFamily[]) {
    const m = makeRandomCnn(family);
    const batch = randomInput(5, m.inputSize, 11);
    const results: Float32Array[] = [];
    for (const threads of THREADS) {
      const model = await loadModel(m.bytes, { backend: 'wasm', threads, deterministic: true });
      results.push((await model.run(batch)).slice(2 * m.outputSize, 3 * m.outputSize));
      results.push(await model.run(batch.slice(2 * m.inputSize, 3 * m.inputSize)));
      wasmTuning.imageChunkBytes = 1; // the batch of 5 in chunks of one row
      results.push((await model.run(batch)).slice(2 * m.outputSize, 3 * m.outputSize));
      wasmTuning.imageChunkBytes = defaultTuning.imageChunkBytes;
      await model.dispose();
    }
    for (const r of results.slice(1)) expect(new Uint32Array(r.buffer)).toEqual(new Uint32Array(results[0]!.buffer));
  }
});

test('flattening an image of more than one pixel into a Linear is refused by name (channels-last)', async () => {
  const { tensor, node, linear, encode } = graphBuilder(3);
  const conv = node('conv2d', 'conv', ['x'], { weight: tensor('conv.weight', [4, 2, 3, 3], -0.3, 0.3) }, { stride: 1, padding: 1, dilation: 1 });
  const y = linear('fc', node('flatten', 'flatten', [conv]), 4 * 5 * 5, 2);
  const { bytes } = encode([2, 5, 5], y);
  const e = await loadModel(bytes, { backend: 'wasm' }).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(GraphError);
  expect((e as Error).message).toMatch(/fc .*channels-last.*backend: 'cpu'/);
});
