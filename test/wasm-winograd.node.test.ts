import { setFlagsFromString } from 'node:v8';
import { afterEach, expect, test } from 'vitest';
import { loadModel } from '../src/index.js';
import { fuseAnyGraph } from '../src/graph/fuse.js';
import { streamModel } from '../src/loader/index.js';
import { referenceForward } from '../src/runtime/reference/forward.js';
import { layoutModel } from '../src/runtime/wasm/layout.js';
import { detectSimd, type SimdLevel } from '../src/runtime/wasm/simd.js';
import { wasmTuning } from '../src/runtime/wasm/wasm-model.js';
import { expectClose, GPU_TOLERANCE } from './helpers/compare.js';
import { graphBuilder } from './helpers/graph-builder.js';

/**
 * Winograd F(2×2, 3×3) on backend 'wasm' (winograd.wat's $wino_rows, pack.ts's packWinogradTaps): the
 * 3×3 stride-1 convs of a small network whose every such conv fits (geometry.ts winogradFits),
 * with odd image sizes (tiles cut by the border), paddings 0, 1 and 2, 12 channels (a padded last
 * input pixel float and output panel), an identity residual, BatchNorms folded and a bias, and a
 * 1×1 image: against the float64 reference, on both SIMD builds, 1 and 2 threads (tiles split, and
 * panels split when tiles are few), rows 1 to 5; the direct implicit GEMM on the same file agrees
 * too, so each sum is checked twice. NaN reaches exactly the outputs the reference has it in, and
 * a row's bits do not depend on its batch or the threads.
 */
const defaultTuning = { ...wasmTuning };
afterEach(() => Object.assign(wasmTuning, defaultTuning));

setFlagsFromString('--experimental-wasm-relaxed-simd');
const BUILDS: SimdLevel[] = detectSimd() === 'relaxed' ? ['relaxed', 'plain'] : ['plain'];

function randomInput(rows: number, width: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: rows * width }, () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 4 - 2);
}

/**
 * [12, 9, 7] → conv p1 → block (conv p1, conv p1 + identity) → conv p2 (11 × 9) → conv p0 (9 × 7)
 * → a downsampling block: conv stride 2 (direct), then conv p1 with a 1×1 stride-2 projection of
 * the block's input stacked in (12 → 16 channels, 5 × 4).
 */
function winogradNet(h = 9, w = 7) {
  const { tensor, node, batchnorm, add, encode } = graphBuilder(17);
  const conv = (name: string, x: string, cin: number, cout: number, padding: number, bias = false, k = 3, stride = 1) => {
    const b = 1 / Math.sqrt(cin * k * k);
    return node('conv2d', name, [x], { weight: tensor(`${name}.weight`, [cout, cin, k, k], -b, b), ...(bias && { bias: tensor(`${name}.bias`, [cout], -b, b) }) }, { padding, stride });
  };
  const relu = (name: string, x: string) => node('activation', name, [x], {}, { fn: 'relu' });
  let x = relu('stem.relu', batchnorm('stem.bn', conv('stem', 'x', 12, 12, 1), 12));
  const h1 = relu('b.relu1', batchnorm('b.bn1', conv('b.conv1', x, 12, 12, 1), 12));
  x = relu('b.relu2', add('b.add', batchnorm('b.bn2', conv('b.conv2', h1, 12, 12, 1), 12), x));
  x = relu('grow.relu', conv('grow', x, 12, 9, 2, true));
  x = conv('shrink', x, 9, 12, 0, true);
  const h2 = relu('d.relu1', batchnorm('d.bn1', conv('d.conv1', x, 12, 16, 1, false, 3, 2), 16));
  const shortcut = batchnorm('d.downsample.1', conv('d.downsample.0', x, 12, 16, 0, false, 1, 2), 16);
  x = relu('d.relu2', add('d.add', batchnorm('d.bn2', conv('d.conv2', h2, 16, 16, 1), 16), shortcut));
  const { bytes } = encode([12, h, w], x);
  return { bytes, inputSize: 12 * h * w, outputSize: 16 * Math.ceil(h / 2) * Math.ceil(w / 2) };
}

test('every 3×3 stride-1 conv on 8 channels or more runs as Winograd, a projection stacked in or not; a stride, a dilation, another window or a compact conv does not', async () => {
  const graph = await streamModel(winogradNet().bytes).complete();
  const layout = layoutModel(fuseAnyGraph(graph), 1, true);
  expect(layout.steps.map((s) => s.winograd)).toEqual([true, true, true, true, true, false, true]);
  expect(layoutModel(fuseAnyGraph(graph), 1, false).steps.some((s) => s.winograd)).toBe(false);
  // Strided, dilated, 5×5, on 4 channels: direct sums.
  const { tensor, node, encode } = graphBuilder(3);
  const conv = (name: string, x: string, cin: number, cout: number, k: number, attrs: Record<string, number>) =>
    node('conv2d', name, [x], { weight: tensor(`${name}.weight`, [cout, cin, k, k], -0.1, 0.1) }, { padding: 1, ...attrs });
  let x = conv('strided', 'x', 12, 12, 3, { stride: 2 }); // 5 × 5
  x = conv('dilated', x, 12, 12, 3, { dilation: 2, padding: 2 });
  x = conv('wide', x, 12, 4, 5, { padding: 2 });
  x = conv('narrow', x, 4, 12, 3, {});
  const others = await streamModel(encode([12, 9, 9], x).bytes).complete();
  expect(layoutModel(fuseAnyGraph(others), 1, true).steps.map((s) => [s.step.nodes[0], s.winograd])).toEqual([
    ['strided', false], ['dilated', false], ['wide', false], ['narrow', false],
  ]);
  // Weights: 16 transformed taps per channel pair instead of 9.
  const wino = layoutModel(fuseAnyGraph(graph), 1, true).steps[0]!;
  const direct = layoutModel(fuseAnyGraph(graph), 1, false).steps[0]!;
  expect(wino.epilogue - wino.weights).toBe(2 * 16 * 16 * 8 * 4);
  expect(direct.epilogue - direct.weights).toBe(2 * 9 * 16 * 8 * 4);
  // With a projection: its 12 channels (padded to 16) after the 16 taps.
  const projected = layout.steps[6]!;
  expect(projected.epilogue - projected.weights).toBe(2 * (16 * 16 + 16) * 8 * 4);
});

test.each(BUILDS)('%s SIMD, 1 and 2 threads, rows 1 to 5: Winograd and the direct sum both match the float64 reference', async (simd) => {
  wasmTuning.simd = simd;
  wasmTuning.minFlopsForThreads = 0;
  for (const [h, w] of [[9, 7], [1, 1], [16, 12]] as const) {
    const net = winogradNet(h, w);
    const graph = await streamModel(net.bytes).complete();
    for (const winograd of [true, false]) {
      wasmTuning.winograd = winograd;
      for (const threads of [1, 2]) {
        const model = await loadModel(net.bytes, { backend: 'wasm', threads });
        for (const rows of [1, 2, 5]) {
          const x = randomInput(rows, net.inputSize, rows * 7 + h);
          // f32 sums of up to 144 products a layer over 7 layers; Winograd's transforms add a few
          // roundings of values no larger than 4× the products' (compare.ts GPU_TOLERANCE).
          expectClose(await model.run(x), referenceForward(graph, x, rows), GPU_TOLERANCE);
        }
        await model.dispose();
      }
    }
  }
});

test('Winograd: NaN in gives NaN exactly where the reference has it', async () => {
  const net = winogradNet();
  const graph = await streamModel(net.bytes).complete();
  const model = await loadModel(net.bytes, { backend: 'wasm', threads: 1 });
  const x = randomInput(2, net.inputSize, 3);
  x[net.inputSize + 12 * 30 + 4] = Number.NaN; // row 1, one channel of one pixel
  const y = await model.run(x);
  const expected = referenceForward(graph, x, 2);
  expect([...y].map((v, i) => Number.isNaN(v) === Number.isNaN(expected[i]!))).not.toContain(false);
  expect([...y.subarray(0, net.outputSize)].some(Number.isNaN)).toBe(false);
  expect([...y].some(Number.isNaN)).toBe(true);
  await model.dispose();
});

test('Winograd, deterministic: a row has the same bits alone and in a batch of 5, on 1 and 2 threads', async () => {
  wasmTuning.minFlopsForThreads = 0;
  const net = winogradNet(16, 12);
  const batch = randomInput(5, net.inputSize, 11);
  const results: Float32Array[] = [];
  for (const threads of [1, 2]) {
    const model = await loadModel(net.bytes, { backend: 'wasm', threads, deterministic: true });
    results.push((await model.run(batch)).slice(2 * net.outputSize, 3 * net.outputSize));
    results.push(await model.run(batch.slice(2 * net.inputSize, 3 * net.inputSize)));
    await model.dispose();
  }
  for (const r of results.slice(1)) expect(new Uint32Array(r.buffer)).toEqual(new Uint32Array(results[0]!.buffer));
});

test('Winograd and ±Inf: outputs whose window holds one are non-finite (NaN or ±Inf), the others finite and as the reference', async () => {
  const { tensor, node, encode } = graphBuilder(5);
  const y = node('conv2d', 'conv', ['x'], { weight: tensor('conv.weight', [8, 8, 3, 3], -0.3, 0.3) }, { padding: 1 });
  const { bytes } = encode([8, 6, 6], y);
  const graph = await streamModel(bytes).complete();
  const model = await loadModel(bytes, { backend: 'wasm', threads: 1 });
  const x = randomInput(1, 8 * 36, 9);
  [x[3 * 36 + 14], x[5 * 36 + 30]] = [Infinity, -Infinity]; // channel 3 at (2, 2), channel 5 at (5, 0)
  const out = await model.run(x);
  const expected = referenceForward(graph, x, 1);
  expect([...out].map((v, i) => Number.isFinite(v) === Number.isFinite(expected[i]!))).not.toContain(false);
  expect(expected.filter((v) => !Number.isFinite(v)).length).toBe(8 * (9 + 4)); // every channel, both windows
  expectClose(out.map((v) => (Number.isFinite(v) ? v : 0)), expected.map((v) => (Number.isFinite(v) ? v : 0)));
  await model.dispose();
});
