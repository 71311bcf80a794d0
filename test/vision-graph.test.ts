import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { encodeSafetensors, GraphError, loadModel, ModelFormatError, ResgpuError } from '../src/index.js';
import { inferGraph } from '../src/loader/infer-graph.js';
import type { CheckedManifestV2 } from '../src/loader/manifest-v2.js';
import { resolveGraph } from '../src/loader/resolve.js';
import type { TensorMap } from '../src/loader/tensors.js';
import { VISION_CASES_DIR } from './global-setup.js';

/**
 * The torchvision ResNet layouts a bare state_dict is inferred from (infer-resnet.ts), on the key
 * lists of torchvision's own constructors (shapes only: test/python/make_vision_cases.py), and what
 * deviates from them; and image graphs that ask for too much, refused before anything is allocated.
 */
const layouts = (): Record<string, [string, number[]][]> => (JSON.parse(readFileSync(join(VISION_CASES_DIR, 'cases.json'), 'utf8')) as { layouts: Record<string, [string, number[]][]> }).layouts;
const shapesOnly = (list: [string, number[]][]): TensorMap => new Map(list.map(([name, shape]) => [name, { name, dtype: 'F32', shape, bytes: new Uint8Array(0) }]));
const infer = (t: TensorMap, inputShape = [3, 224, 224]) => inferGraph(t, inputShape) as CheckedManifestV2;

/** Blocks per layer and block type of each named ResNet (torchvision's resnet.py). */
const NAMED: Record<string, [number[], 'basic' | 'bottleneck']> = {
  resnet18: [[2, 2, 2, 2], 'basic'],
  resnet34: [[3, 4, 6, 3], 'basic'],
  resnet50: [[3, 4, 6, 3], 'bottleneck'],
  resnet101: [[3, 4, 23, 3], 'bottleneck'],
  resnet152: [[3, 8, 36, 3], 'bottleneck'],
  wide_resnet50_2: [[3, 4, 6, 3], 'bottleneck'],
  wide_resnet101_2: [[3, 4, 23, 3], 'bottleneck'],
};

describe("torchvision's named ResNets, from their keys", () => {
  test.each(Object.entries(NAMED))('%s is inferred block by block, to 1000 classes at 224×224', (name, [blocks, type]) => {
    const tensors = shapesOnly(layouts()[name]!);
    const m = infer(tensors);
    const graph = resolveGraph(m, tensors);
    expect(graph.values[graph.output]!.shape).toEqual([1000]);
    // stem 4 nodes, head 3; per block conv+bn pairs, ReLUs, the add; 2 more for each layer's downsample.
    const perBlock = type === 'basic' ? 7 : 10;
    expect(m.nodes).toHaveLength(4 + 3 + perBlock * blocks.reduce((a, b) => a + b, 0) + 2 * (type === 'basic' ? 3 : 4)); // layer1 of BasicBlocks keeps 64 channels: no downsample
    const shapeOf = (n: string) => graph.values[graph.nodes.find((x) => x.name === n)!.output]!.shape;
    expect(shapeOf('maxpool')).toEqual([64, 56, 56]);
    expect(shapeOf('layer4.0.add')).toEqual([type === 'basic' ? 512 : 2048, 7, 7]);
    expect(m.nodes.find((n) => n.name === 'layer2.0.conv2')!.attrs.stride).toEqual(type === 'basic' ? [1, 1] : [2, 2]);
  });

  test('ResNeXt (grouped 3×3 convs) is refused, naming it', () => {
    expect(() => infer(shapesOnly(layouts().resnext50_32x4d!))).toThrow(/takes 4 channels where the layer before gives 128 \(a grouped convolution, as in ResNeXt\?\).*export_resgpu\.py.*torch\.onnx\.export/s);
  });

  const edited = (edit: (list: [string, number[]][]) => [string, number[]][]) => shapesOnly(edit([...layouts().resnet18!]));
  test.each([
    ['a missing key', (l: [string, number[]][]) => l.filter(([k]) => k !== 'layer3.1.bn2.running_var'), /no "layer3\.1\.bn2\.running_var"/],
    ['an extra module', (l: [string, number[]][]) => [...l, ['head.weight', [10, 512]] as [string, number[]]], /tensors torchvision's ResNet \(BasicBlocks \[2, 2, 2, 2\]\) has not: "head\.weight"/],
    ['a conv with a bias', (l: [string, number[]][]) => [...l, ['layer1.0.conv1.bias', [64]] as [string, number[]]], /"layer1\.0\.conv1" has a bias/],
    ['no downsample where the stride is 2', (l: [string, number[]][]) => l.filter(([k]) => !k.startsWith('layer2.0.downsample')), /"layer2\.0" has no downsample where torchvision makes one/],
    ['a block numbered past a gap', (l: [string, number[]][]) => l.map(([k, s]) => [k.replace('layer1.1.', 'layer1.2.'), s] as [string, number[]]), /layer1 has no block 1 before block 2/],
    ['a fifth layer', (l: [string, number[]][]) => [...l, ['layer5.0.conv1.weight', [64, 512, 3, 3]] as [string, number[]]], /has not: "layer5\.0\.conv1\.weight"/],
    ['a 5×5 conv in a block', (l: [string, number[]][]) => l.map(([k, s]) => [k, k === 'layer1.0.conv2.weight' ? [64, 64, 5, 5] : s] as [string, number[]]), /"layer1\.0\.conv2\.weight" has shape \[64, 64, 5, 5\] where torchvision's BasicBlock's conv2, a 3×3 convolution has \[64, 64, 3, 3\]/],
  ])('%s is refused by name, pointing at the exporter and ONNX', (_, edit, message) => {
    const e = (() => {
      try {
        infer(edited(edit));
        return null;
      } catch (x) {
        return x as Error;
      }
    })();
    expect(e).toBeInstanceOf(GraphError);
    expect(e!.message).toMatch(message);
    expect(e!.message).toMatch(/npx resgpu export .*--input-shape C,H,W.*torch\.onnx\.export/);
  });
});

const cpu = { backend: 'cpu' } as const;
const weights = (tensors: { name: string; shape: number[] }[]) =>
  encodeSafetensors(tensors.map(({ name, shape }) => ({ name, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) })));
const manifest = (shape: number[], nodes: object[]) => ({ format: 'resgpu-graph', version: 2, inputs: [{ name: 'x', shape }], outputs: [(nodes.at(-1) as { output: string }).output], nodes }) as never;
const conv = (c: number, o: number, k: number, attrs: object = {}) => ({ op: 'conv2d', name: 'conv', inputs: ['x'], output: 'y', params: { weight: 'w' }, attrs, w: { name: 'w', shape: [o, c, k, k] } });

/** Refused with a typed error, in bounded time and without growing the process by more than 64 MiB. */
async function refusedSmall(load: () => Promise<unknown>): Promise<Error> {
  const [before, started] = [process.memoryUsage().rss, performance.now()];
  const e = await load().then(() => null, (x: unknown) => x as Error);
  expect(e).toBeInstanceOf(ResgpuError);
  expect(performance.now() - started).toBeLessThan(2_000);
  expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
  return e!;
}

describe('image graphs that cannot run are refused before any allocation', () => {
  test('a kernel larger than the padded input', async () => {
    const { w, ...node } = conv(3, 2, 7, { padding: [1, 1] });
    const e = await refusedSmall(() => loadModel({ weights: weights([w]), graph: manifest([3, 4, 4], [node]) }, cpu));
    expect(e).toBeInstanceOf(GraphError);
    expect(e.message).toMatch(/Conv2d "conv": its kernel spans 7 pixels along H, more than the 6 of its padded input; PyTorch refuses it too/);
  });
  test.each([
    ['an image past 65536 pixels a side', [3, 65537, 8], conv(3, 4, 1), GraphError, /reads an image of \[3, 65537, 8\] per row; resgpu runs at most 65536 channels and 65536 pixels a side/],
    ['a 1×1 conv to 2^32 values per row', [4, 65536, 65536], conv(4, 4, 1), GraphError, /would output \[4, 65536, 65536\] per row \(17179869184 values\)/],
    ['a padding of 65536 pixels', [4, 8, 8], conv(4, 4, 1, { padding: [65536, 65536] }), GraphError, /would output \[4, 131080, 131080\] per row/],
    ['a stride of 0', [4, 8, 8], conv(4, 4, 1, { stride: [0, 1] }), ModelFormatError, /attrs\.stride must be two integers \[along H, along W\] from 1 to 65536, got \[0,1\]/],
    ['max pooling to 2^30 values per row', [1, 65536, 65536], { op: 'maxpool2d', inputs: ['x'], output: 'y', attrs: { kernel: 2, stride: 1 } }, GraphError, /would output \[1, 65535, 65535\] per row/],
  ])('%s', async (_, shape, n, type, message) => {
    const { w, ...node } = n as ReturnType<typeof conv>;
    const e = await refusedSmall(() => loadModel({ weights: weights(w ? [w] : []), graph: manifest(shape, [node]) }, cpu));
    expect(e).toBeInstanceOf(type);
    expect(e.message).toMatch(message);
  });
  test('a ResNet state_dict given an image of 65536 × 65536', async () => {
    const bytes = readFileSync(join(VISION_CASES_DIR, 'basic_gray.pt'));
    const e = await refusedSmall(() => loadModel(bytes, { ...cpu, inputShape: [1, 65536, 65536] }));
    expect(e.message).toMatch(/Conv2d "conv1" would output \[64, 32768, 32768\] per row/);
  });
  test('a grouped conv in a manifest, by name', async () => {
    const { w, ...node } = conv(4, 4, 3, { groups: 2 });
    const e = await refusedSmall(() => loadModel({ weights: weights([{ ...w, shape: [4, 2, 3, 3] }]), graph: manifest([4, 8, 8], [node]) }, cpu));
    expect(e.message).toMatch(/Conv2d "conv" has groups=2 \(a grouped or depthwise convolution\); resgpu runs convolutions with groups=1 only/);
  });
});
