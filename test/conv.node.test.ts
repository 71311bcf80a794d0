import { beforeAll, describe, expect, test } from 'vitest';
import { encodeSafetensors, GpuLimitError, GRAPH_METADATA_KEY, GraphError, loadModel, type GraphManifestV2, type KernelVariant } from '../src/index.js';
import { fuseAnyGraph } from '../src/graph/fuse.js';
import { KERNEL_FAMILIES } from '../src/kernels/registry.js';
import { streamModel } from '../src/loader/index.js';
import { referenceForward } from '../src/runtime/reference/forward.js';
import { planLayout, valueStrides } from '../src/runtime/webgpu/layout.js';
import { expectClose, GPU_TOLERANCE } from './helpers/compare.js';
import { fusedForward, halfWeightsForward } from './helpers/fused-reference.js';
import { nodeDevice } from './helpers/node-gpu.js';
import { makeRandomCnn, type CnnFamily } from './helpers/random-cnn.js';
import { randomInput } from './helpers/random-model.js';

/**
 * Image ResNets on WebGPU (SwiftShader), channels-last, against the float64 reference running the
 * graph unfused: residual CNNs of odd channels and sizes (helpers/random-cnn.ts) with each dense
 * kernel forced (convolutions and pooling always run the conv and pool kernels) × f32/f16 weights,
 * at batch 1 and 3, in the dispatch counts the fusion must reach; NaN and ±Inf through a conv and
 * max pooling; what the backend refuses, and the limits it names.
 */
let device: GPUDevice;
beforeAll(async () => {
  device = await nodeDevice();
});

const VARIANTS = Object.keys(KERNEL_FAMILIES) as KernelVariant[];
const FAMILIES: CnnFamily[] = ['basic', 'bottleneck'];

describe.each(FAMILIES)('%s', (family) => {
  test.each(VARIANTS)('%s forced for the dense steps, f32 and f16 weights', async (kernel) => {
    const m = makeRandomCnn(family);
    const graph = await streamModel(m.bytes).complete();
    for (const precision of ['f32', 'f16'] as const) {
      const model = await loadModel(m.bytes, { device, kernel, precision });
      const dispatches = model.describe().dispatches;
      expect(dispatches).toHaveLength(m.dispatches);
      // A Linear with a mean prologue has one kernel whatever is forced (select.ts), and says so.
      const variant = (op: string) => (op.startsWith('conv2d') ? 'conv' : op.startsWith('global_avgpool+linear') ? 'gemm_mean' : /pool/.test(op) ? 'pool' : op.startsWith('linear') ? kernel : 'elementwise');
      for (const d of dispatches) expect(d.variant).toBe(variant(d.kernel));
      for (const batch of [1, 3]) {
        const x = randomInput(batch, m.inputSize, batch);
        // f16: against the fused model with its weights rounded to f16 as the packing does, so that
        // only f32 accumulation is left and the f32 bound holds (an f16 rounding bug shows).
        expectClose(await model.run(x), precision === 'f32' ? referenceForward(graph, x, batch) : halfWeightsForward(graph, x, batch), GPU_TOLERANCE);
      }
      await model.dispose();
    }
  });
});

test.each(FAMILIES)('%s: the fused steps in float64 (the f16 check above) compute what the graph does', async (family) => {
  const m = makeRandomCnn(family);
  const graph = await streamModel(m.bytes).complete();
  const x = randomInput(2, m.inputSize, 7);
  // Both float64; the fold and the summation order differ, nothing else.
  expectClose(fusedForward(graph, x, 2), referenceForward(graph, x, 2), 1e-9);
});

test('a BasicBlock is 2 dispatches with either shortcut, a Bottleneck 3', async () => {
  const ops = async (family: CnnFamily) => fuseAnyGraph(await streamModel(makeRandomCnn(family).bytes).complete()).steps.map((s) => s.op);
  expect(await ops('basic')).toEqual(['conv2d+relu', 'maxpool2d', 'conv2d+relu', 'conv2d+add+relu', 'conv2d+relu', 'conv2d+projection+add+relu', 'global_avgpool+linear']);
  expect((await ops('bottleneck')).slice(1, 4)).toEqual(['conv2d+relu', 'conv2d+relu', 'conv2d+projection+add+relu']);
});

test('a BatchNorm before a conv folds into it only when the conv has no padding', async () => {
  const steps = fuseAnyGraph(await streamModel(makeRandomCnn('bottleneck').bytes).complete()).steps;
  const stepOf = (node: string) => steps.find((s) => s.nodes.includes(node))!;
  expect(stepOf('pre.unpadded').nodes).toEqual(['pre.unpadded', 'unpadded', 'unpadded.relu']);
  expect(stepOf('pre.padded')).toMatchObject({ kind: 'elementwise', op: 'scale_shift', nodes: ['pre.padded'] });
  expect(stepOf('padded').nodes).toEqual(['padded']);
});

/** conv 3×3 (padding 1) → max pooling 2×2, on images holding NaN, +Inf and -Inf. */
function specialsNet() {
  const weight = Float32Array.from({ length: 2 * 2 * 9 }, (_, i) => ((i * 7) % 5) / 5 - 0.4);
  const manifest: GraphManifestV2 = {
    format: 'resgpu-graph',
    version: 2,
    inputs: [{ name: 'x', shape: [2, 5, 6] }],
    outputs: ['p'],
    nodes: [
      { op: 'conv2d', name: 'conv', inputs: ['x'], output: 'c', params: { weight: 'conv.weight' }, attrs: { padding: 1 } },
      { op: 'maxpool2d', name: 'pool', inputs: ['c'], output: 'p', attrs: { kernel: 2, stride: 2 } },
    ],
  };
  return encodeSafetensors([{ name: 'conv.weight', shape: [2, 2, 3, 3], data: weight }], { [GRAPH_METADATA_KEY]: JSON.stringify(manifest) });
}

test('NaN and ±Inf pass through a conv and max pooling as in PyTorch (the float64 reference)', async () => {
  const bytes = specialsNet();
  const graph = await streamModel(bytes).complete();
  const x = randomInput(2, 60, 4);
  [x[3], x[17], x[40], x[77], x[101]] = [NaN, Infinity, -Infinity, Infinity, NaN];
  const gpu = await loadModel(bytes, { device });
  const y = await gpu.run(x);
  const expected = referenceForward(graph, x, 2);
  expect([...y].map((v) => (Number.isFinite(v) ? 'finite' : String(v)))).toEqual([...expected].map((v) => (Number.isFinite(v) ? 'finite' : String(v))));
  expect([...y].some(Number.isNaN)).toBe(true);
  expectClose(y.map((v) => (Number.isFinite(v) ? v : 0)), expected.map((v) => (Number.isFinite(v) ? v : 0)));
  await gpu.dispose();
});

test('flattening an image of more than one pixel is refused on WebGPU, naming the layout', async () => {
  const manifest: GraphManifestV2 = {
    format: 'resgpu-graph',
    version: 2,
    inputs: [{ name: 'x', shape: [2, 3, 3] }],
    outputs: ['y'],
    nodes: [
      { op: 'flatten', name: 'flatten', inputs: ['x'], output: 'f' },
      { op: 'linear', name: 'fc', inputs: ['f'], output: 'y', params: { weight: 'fc.weight' } },
    ],
  };
  const bytes = encodeSafetensors([{ name: 'fc.weight', shape: [4, 18], data: new Float32Array(72) }], { [GRAPH_METADATA_KEY]: JSON.stringify(manifest) });
  const e = await loadModel(bytes, { device }).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(GraphError);
  expect((e as Error).message).toMatch(/fc .*channels-last \(NHWC\)/);
  expect(await (await loadModel(bytes, { backend: 'cpu' })).run(new Float32Array(18))).toHaveLength(4);
});

test('an RGB or grayscale input that only convolutions read is stored 4 channels a pixel, else 8', async () => {
  const strides = async (bytes: Uint8Array) => valueStrides(fuseAnyGraph(await streamModel(bytes).complete()));
  expect((await strides(makeRandomCnn('basic').bytes))[0]).toBe(4); // 3 channels, read by the stem conv
  expect((await strides(makeRandomCnn('bottleneck').bytes))[0]).toBe(4); // 1 channel
  const values = await strides(makeRandomCnn('basic').bytes);
  expect(values.slice(1).every((s) => s % 8 === 0)).toBe(true);
});

test('activations past the device limits are a GpuLimitError naming the step and the limit, before any allocation', async () => {
  const m = makeRandomCnn('basic');
  const fused = fuseAnyGraph(await streamModel(m.bytes).complete());
  const limits = { maxStorageBufferBindingSize: 4000, maxBufferSize: 1 << 30, maxComputeWorkgroupsPerDimension: 65535, maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupStorageSize: 16384 };
  const small = { software: true, limits, features: new Set<string>() };
  const selection = { precision: 'f32' as const, forced: null, measured: new Map() };
  // Batch 1: the input (3 channels padded to 4, as the stem reads them; 17 × 15 = 255 pixels padded to 256 rows) is 4096 bytes.
  expect(() => planLayout(fused, valueStrides(fused), 1, small, selection)).toThrow(GpuLimitError);
  expect(() => planLayout(fused, valueStrides(fused), 1, small, selection)).toThrow(/model input would take 4096 bytes, past maxStorageBufferBindingSize/);
  const roomy = { ...small, limits: { ...limits, maxStorageBufferBindingSize: 20_000 } };
  expect(() => planLayout(fused, valueStrides(fused), 8, roomy, selection)).toThrow(/Batch 8 .*the model input would take 32640 bytes.*at most 2 rows/);
  const fewGroups = { ...small, limits: { ...limits, maxStorageBufferBindingSize: 1 << 30, maxComputeWorkgroupsPerDimension: 4 } };
  expect(() => planLayout(fused, valueStrides(fused), 1, fewGroups, selection)).toThrow(/step conv1 .* would dispatch 8 workgroups along one dimension, past maxComputeWorkgroupsPerDimension \(4\)/);
});
