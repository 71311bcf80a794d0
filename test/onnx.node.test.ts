import onnxProto from 'onnx-proto';
import { beforeAll, describe, expect, test } from 'vitest';
import { GraphError, loadModel, ModelFormatError } from '../src/index.js';
import { expectClose } from './helpers/compare.js';
import { nodeDevice } from './helpers/node-gpu.js';
import { hasFile, torchCases, torchFile } from './helpers/torch-cases.js';

/**
 * ONNX files exported by real PyTorch (torch.onnx.export at opsets 11, 13 and 17, static and
 * dynamic batch) against PyTorch's own output, and against resgpu's output for the .pt of the
 * same model. Broken graphs are made by editing a real export with onnx-proto.
 */
const { onnx } = onnxProto;
let device: GPUDevice;
beforeAll(async () => {
  device = await nodeDevice();
});

const OPSETS = [11, 13, 17];

describe.each(torchCases().filter((c) => hasFile(`${c.name}.opset17.onnx`)))('ONNX case $name', (c) => {
  test.each(OPSETS)('opset %i matches PyTorch and the .pt, with the native dispatch count', async (opset) => {
    const model = await loadModel(torchFile(`${c.name}.opset${opset}.onnx`), { device });
    const native = await loadModel(torchFile(`${c.name}.pt`), { device });
    const x = Float32Array.from(c.x);
    const y = await model.run(x);
    expectClose(y, c.y);
    // Same weights, same folding, same kernels: only float64 rounding of transposes may differ.
    expectClose(y, await native.run(x), 1e-6);
    expect(model.describe().dispatches.map((d) => d.kernel)).toEqual(native.describe().dispatches.map((d) => d.kernel));
    expect([model.inputNames, model.outputNames]).toEqual([['x'], ['y']]);
    await model.dispose();
    await native.dispose();
  });
});

test('a dynamic-batch export runs any batch; a static one too (the batch dimension is not enforced)', async () => {
  const c = torchCases().find((t) => t.name === 'odd_sizes_with_head')!;
  for (const opset of [11, 17]) {
    const model = await loadModel(torchFile(`${c.name}.opset${opset}.onnx`), { device });
    const x = Float32Array.from(c.x.slice(0, 2 * c.input_size));
    expectClose(await model.run(x), c.y.slice(0, 2 * c.output_size));
    await model.dispose();
  }
});

describe('ONNX graphs resgpu cannot run fail at load with the offending nodes', () => {
  const base = () => onnx.ModelProto.decode(torchFile('one_block_projection_odd.opset13.onnx'));
  const encode = (m: onnxProto.onnx.ModelProto) => onnx.ModelProto.encode(m).finish();
  const cases: [string, () => Uint8Array, typeof GraphError | typeof ModelFormatError, RegExp][] = [
    ['an unsupported op', () => torchFile('graphs/softmax.opset13.onnx'), GraphError, /Softmax \([^)]*\) is not supported/],
    ['a missing initializer', () => {
      const m = base();
      m.graph!.initializer = m.graph!.initializer!.filter((t) => !t.name!.endsWith('linear2.weight'));
      return encode(m);
    }, GraphError, /Gemm \([^)]*linear2[^)]*\) reads "[^"]*linear2\.weight", which is neither an initializer nor a constant/],
    ['a Gemm with transA=1', () => {
      const m = base();
      const gemm = m.graph!.node!.find((n) => n.opType === 'Gemm')!;
      gemm.attribute!.push(onnx.AttributeProto.create({ name: 'transA', type: onnx.AttributeProto.AttributeType.INT, i: 1 }));
      return encode(m);
    }, GraphError, /transA=1/],
    ['a second input', () => {
      const m = base();
      m.graph!.input!.push(onnx.ValueInfoProto.create({ name: 'mask' }));
      return encode(m);
    }, GraphError, /2 graph inputs \(x, mask\)/],
    ['a truncated protobuf', () => torchFile('one_block_projection_odd.opset13.onnx').subarray(0, 700), ModelFormatError, /Malformed ONNX file/],
    ['an initializer in a missing external file', () => {
      const m = base();
      const t = m.graph!.initializer![0]!;
      t.rawData = new Uint8Array(0);
      t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      t.externalData = [onnx.StringStringEntryProto.create({ key: 'location', value: 'weights.bin' })];
      return encode(m);
    }, ModelFormatError, /external file "weights\.bin"; pass it: loadModel\(\{ model, externalData/],
  ];
  test.each(cases)('%s', async (_, bytes, type, message) => {
    const failure = loadModel(bytes(), { backend: 'cpu' });
    await expect(failure).rejects.toBeInstanceOf(type);
    await expect(failure).rejects.toThrow(message);
  });

  test('MatMul + Add and a 2-D Flatten run like the Gemm they replace', async () => {
    const c = torchCases().find((t) => t.name === 'odd_sizes_with_head')!;
    const m = onnx.ModelProto.decode(torchFile(`${c.name}.opset13.onnx`));
    const g = m.graph!;
    // Flatten(x) in front of everything that read x.
    for (const n of g.node!) n.input = n.input!.map((i) => (i === 'x' ? 'x_flat' : i));
    g.node!.unshift(onnx.NodeProto.create({ opType: 'Flatten', name: 'flatten', input: ['x'], output: ['x_flat'] }));
    // The head's Gemm (transB = 1) as MatMul with the transposed weight, then Add of the bias.
    const i = g.node!.findIndex((n) => n.opType === 'Gemm' && n.output![0] === 'y');
    const [a, w, b] = g.node![i]!.input! as [string, string, string];
    const weight = g.initializer!.find((t) => t.name === w)!;
    const [out, inF] = weight.dims!.map(Number) as [number, number];
    const values = new Float32Array(new Uint8Array(weight.rawData!).buffer); // a copy: rawData may be a Node Buffer view
    const t = Float32Array.from({ length: out * inF }, (_, k) => values[(k % out) * inF + Math.floor(k / out)]!);
    g.initializer!.push(onnx.TensorProto.create({ name: 'w_t', dims: [inF, out], dataType: 1, rawData: new Uint8Array(t.buffer) }));
    g.node!.splice(i, 1,
      onnx.NodeProto.create({ opType: 'MatMul', name: 'head_matmul', input: [a, 'w_t'], output: ['head_mm'] }),
      onnx.NodeProto.create({ opType: 'Add', name: 'head_add', input: ['head_mm', b], output: ['y'] }));
    const model = await loadModel(encode(m), { device });
    expectClose(await model.run(Float32Array.from(c.x)), c.y);
    expect(model.describe().dispatches.at(-1)!.kernel).toBe('linear');
    await model.dispose();
  });

  test('external data is read when it is passed', async () => {
    const c = torchCases().find((t) => t.name === 'one_block_projection_odd')!;
    const m = base();
    const blob: number[] = [];
    for (const t of m.graph!.initializer!) {
      const offset = blob.length;
      blob.push(...t.rawData!);
      t.rawData = new Uint8Array(0);
      t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      t.externalData = [
        onnx.StringStringEntryProto.create({ key: 'location', value: 'weights.bin' }),
        onnx.StringStringEntryProto.create({ key: 'offset', value: String(offset) }),
      ];
    }
    const model = await loadModel({ model: encode(m), externalData: { 'weights.bin': new Uint8Array(blob) } }, { device });
    expectClose(await model.run(Float32Array.from(c.x)), c.y);
    await model.dispose();
  });
});
