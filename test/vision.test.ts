import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { GraphError, InputError, loadModel, OptionError } from '../src/index.js';
import { VISION_CASES_DIR } from './global-setup.js';
import { pyFloats, pyNumber, scaledError } from './helpers/compare.js';

/**
 * Image ResNets (issue 17) on the float64 reference, against real PyTorch and torchvision
 * (test/python/make_vision_cases.py): torchvision's resnet18, a grayscale BasicBlock ResNet and a
 * narrow Bottleneck (resnet50's layout), each from a bare .pt state_dict (inferred from its keys),
 * the exporter's .safetensors and ONNX at opsets 13 and 17; and a model of the other image ops
 * (BatchNorm2d on the input, a dilated rectangular conv with bias, average pooling with and
 * without count_include_pad and ceil_mode, dilated max pooling) through the exporter and ONNX;
 * and a conv padded unequally per side (ONNX's pads) against F.pad + F.conv2d.
 */
interface Network {
  name: string;
  input_shape: number[];
  output_size: number;
  files: { pt?: string; safetensors?: string; onnx: Record<string, string> };
  inputs: { rows: number; x: (number | string)[]; float32: (number | string)[]; float64: (number | string)[] };
}
interface Cases {
  networks: Network[];
  refusals: { cifar_stem_pt: string; grouped_onnx: string; grouped_exporter: string | null; grouped_written: boolean; dynamic_hw_onnx: string };
  asymmetric_conv: { x: number[]; weight: number[]; bias: number[]; float64: number[]; input_shape: number[]; weight_shape: number[]; attrs: Record<string, number[]>; output_shape: number[] };
  pooling: { x: (number | string)[]; shape: number[]; ops: { op: string; attrs: Record<string, unknown>; float32: (number | string)[]; float64: (number | string)[]; shape: number[] }[] };
}

const cases = (): Cases => JSON.parse(readFileSync(join(VISION_CASES_DIR, 'cases.json'), 'utf8')) as Cases;
const file = (name: string) => readFileSync(join(VISION_CASES_DIR, name));
const num = pyNumber;
const floats = pyFloats;
const cpu = { backend: 'cpu' } as const;

describe.each(cases().networks)('$name', (c) => {
  const loads: [string, Uint8Array, boolean][] = [
    ...(c.files.pt ? [[`${c.files.pt} (a bare state_dict)`, file(c.files.pt), true] as [string, Uint8Array, boolean]] : []),
    ...(c.files.safetensors ? [[c.files.safetensors, file(c.files.safetensors), true] as [string, Uint8Array, boolean]] : []),
    ...Object.values(c.files.onnx).map((f): [string, Uint8Array, boolean] => [f, file(f), false]),
  ];
  test.each(loads)("%s matches PyTorch on backend 'cpu'", async (what, bytes, float64) => {
    const model = await loadModel(bytes, { ...cpu, ...(what.endsWith('.pt (a bare state_dict)') && { inputShape: c.input_shape }) });
    expect(model.inputShape).toEqual(c.input_shape);
    expect([model.inputSize, model.outputSize]).toEqual([c.input_shape.reduce((a, b) => a * b, 1), c.output_size]);
    const y = await model.run(floats(c.inputs.x));
    // 2e-4 of the output scale against PyTorch's float32 model (its f32 rounding, and ONNX's BatchNorms folded in f32).
    expect(scaledError(y, c.inputs.float32.map(num))).toBeLessThanOrEqual(2e-4);
    if (float64) {
      // The same float32 weights in float64 arithmetic on both sides: only the order of roundings differs.
      const { referenceForward } = await import('../src/runtime/reference/forward.js');
      const { streamModel } = await import('../src/loader/index.js');
      const graph = await streamModel(bytes, undefined, undefined, c.input_shape).complete();
      const exact = referenceForward(graph, floats(c.inputs.x), c.inputs.rows);
      expect(scaledError(exact, c.inputs.float64.map(num))).toBeLessThanOrEqual(1e-9);
    }
    await model.dispose();
  });
});

describe('a bare torchvision ResNet state_dict', () => {
  const resnet18 = () => file('resnet18.pt');
  test('needs inputShape, and says so', async () => {
    const e = await loadModel(resnet18(), cpu).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GraphError);
    expect((e as Error).message).toMatch(/torchvision ResNet for 3-channel images.*inputShape: \[3, H, W\]/);
  });
  test('refuses an inputShape whose channels differ from the stem', async () => {
    await expect(loadModel(resnet18(), { ...cpu, inputShape: [1, 64, 64] })).rejects.toThrow(OptionError);
  });
  test('is described as torchvision names its modules', async () => {
    const model = await loadModel(resnet18(), { ...cpu, inputShape: [3, 64, 64] });
    const names = model.describe().layers.map((l) => l.name);
    expect(names.slice(0, 4)).toEqual(['conv1', 'bn1', 'layer1.0.conv1', 'layer1.0.bn1']);
    expect(names).toContain('layer2.0.downsample.0');
    expect(names.at(-1)).toBe('fc');
  });
  test('a CIFAR-style 3×3 stem is refused, naming the exporter and ONNX', async () => {
    const e = await loadModel(file(cases().refusals.cifar_stem_pt), { ...cpu, inputShape: [3, 32, 32] }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GraphError);
    expect((e as Error).message).toMatch(/stem "conv1\.weight" is \[64, 3, 3, 3\].*export_resgpu\.py.*torch\.onnx\.export/s);
  });
});

describe('an ONNX file whose image size is dynamic', () => {
  test('needs inputShape, and says so', async () => {
    const e = await loadModel(file(cases().refusals.dynamic_hw_onnx), cpu).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GraphError);
    expect((e as Error).message).toMatch(/input "x" is not .* with fixed sizes \(pass the sizes the file leaves dynamic as loadModel\(file, \{ inputShape: \[C, H, W\] \}\)\)/);
  });
  test('takes them from inputShape', async () => {
    const c = cases().networks.find((n) => n.name === 'pooling')!;
    const model = await loadModel(file(cases().refusals.dynamic_hw_onnx), { ...cpu, inputShape: c.input_shape });
    expect(model.inputShape).toEqual(c.input_shape);
    expect(scaledError(await model.run(floats(c.inputs.x)), c.inputs.float32.map(num))).toBeLessThanOrEqual(2e-4);
    await expect(loadModel(file(cases().refusals.dynamic_hw_onnx), { ...cpu, inputShape: [3, 19, 23] })).rejects.toBeInstanceOf(OptionError);
  });
});

describe('refusals', () => {
  test('a groups=2 convolution in ONNX, by name', async () => {
    const e = await loadModel(file(cases().refusals.grouped_onnx), cpu).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GraphError);
    expect((e as Error).message).toMatch(/Conv .* has group=2 \(a grouped or depthwise convolution\)/);
  });
  test('a groups=2 convolution through the exporter, which writes no file', () => {
    const r = cases().refusals;
    expect(r.grouped_exporter).toMatch(/groups=2 \(a grouped or depthwise convolution\)/);
    expect(r.grouped_written).toBe(false);
  });
  test('an inputShape that disagrees with the ONNX file', async () => {
    await expect(loadModel(file('resnet18.opset13.onnx'), { ...cpu, inputShape: [3, 32, 32] })).rejects.toThrow(/inputShape \[3, 32, 32\] disagrees with the ONNX file, whose input is \[3, 64, 64\]/);
    await expect(loadModel(file('resnet18.opset13.onnx'), { ...cpu, inputShape: [3, 32, 32] })).rejects.toBeInstanceOf(OptionError);
  });
  test('an input whose length is not a whole number of images', async () => {
    const model = await loadModel(file('pooling.safetensors'), cpu);
    const e = await model.run(new Float32Array(19 * 23 * 2 + 1)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InputError);
    expect((e as Error).message).toMatch(/input size 874 \(a row is \[2, 19, 23\], in NCHW order\)/);
  });
  test('an inputShape that is not a shape', async () => {
    for (const inputShape of [[], [0, 2, 2], [1, 2, 3, 4], [1.5], 'x']) {
      await expect(loadModel(file('pooling.safetensors'), { ...cpu, inputShape: inputShape as never })).rejects.toBeInstanceOf(OptionError);
    }
  });
});

describe('pooling of NaN and ±Inf, as PyTorch', () => {
  test.each(cases().pooling.ops)('$op', async (p) => {
    const { encodeSafetensors } = await import('../src/index.js');
    const graph = { format: 'resgpu-graph', version: 2, inputs: [{ name: 'x', shape: cases().pooling.shape }], outputs: ['y'], nodes: [{ op: p.op, inputs: ['x'], output: 'y', attrs: p.attrs }] };
    const model = await loadModel({ weights: encodeSafetensors([]), graph: graph as never }, cpu);
    const y = await model.run(floats(cases().pooling.x));
    expect([...y].map(String)).toEqual(p.float64.map((v) => String(num(v))));
  });
});

test('a conv padded unequally per side ([top, left, bottom, right]) computes F.pad + F.conv2d', async () => {
  const { encodeSafetensors } = await import('../src/index.js');
  const c = cases().asymmetric_conv;
  const weights = encodeSafetensors([
    { name: 'w', shape: c.weight_shape, data: Float64Array.from(c.weight) },
    { name: 'b', shape: [c.bias.length], data: Float64Array.from(c.bias) },
  ]);
  const node = { op: 'conv2d', inputs: ['x'], output: 'y', params: { weight: 'w', bias: 'b' }, attrs: c.attrs };
  const graph = { format: 'resgpu-graph', version: 2, inputs: [{ name: 'x', shape: c.input_shape }], outputs: ['y'], nodes: [node, { op: 'flatten', inputs: ['y'], output: 'f' }] };
  graph.outputs = ['f'];
  const model = await loadModel({ weights, graph: graph as never }, cpu);
  expect(model.outputSize).toBe(c.output_shape.reduce((a, b) => a * b, 1));
  expect(scaledError(await model.run(floats(c.x)), c.float64)).toBeLessThanOrEqual(1e-6); // the output is float32
});
