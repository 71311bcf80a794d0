import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { describe, expect, test } from 'vitest';
import { GraphError } from '../src/index.js';
import { decodeNumbers } from '../src/loader/dtype.js';
import type { ManifestNode } from '../src/loader/manifest-v2.js';
import { parseOnnx } from '../src/loader/onnx/index.js';
import { TORCH_CASES_DIR } from './global-setup.js';
import { forwardV2 } from './helpers/manifest-v2-forward.js';

/**
 * ONNX import as an op graph (manifest version 2), on the residual families of issue 16
 * exported by real PyTorch (test/python/make_onnx_graph_cases.py) at opsets 13 (LayerNorm and
 * GELU decomposed) and 17 (LayerNormalization): the node list with its attributes, each
 * linear's weights against PyTorch's, and a float64 interpretation of the graph against
 * PyTorch's float64 output, which proves the decomposed forms were matched to what they compute.
 */
const { onnx } = onnxProto;
const DIR = join(TORCH_CASES_DIR, 'graphs');

interface GraphCase {
  name: string;
  opsets: number[];
  input_size: number;
  rows: number;
  ops: [string, Record<string, unknown>][];
  x: number[];
  y: number[];
  linear_weights: Record<string, number[][]>;
}

const cases = (): GraphCase[] => JSON.parse(readFileSync(join(DIR, 'cases.json'), 'utf8')) as GraphCase[];
const file = (name: string) => readFileSync(join(DIR, name));
const runs = cases().flatMap((c) => c.opsets.map((opset) => ({ ...c, opset, label: `${c.name} at opset ${opset}` })));
const values = (tensors: Map<string, { dtype: string; bytes: Uint8Array; shape: number[] }>, name: string) => {
  const t = tensors.get(name)!;
  return { shape: t.shape, v: [...decodeNumbers(t.dtype, t.bytes, name)] };
};

describe.each(runs)('$label', (c) => {
  let parsed: ReturnType<typeof parseOnnx> | undefined;
  const graph = () => (parsed ??= parseOnnx(file(`${c.name}.opset${c.opset}.onnx`), new Map()));
  const ops = (nodes: ManifestNode[]) => nodes.filter((n) => !['identity', 'dropout', 'flatten'].includes(n.op)).map((n) => [n.op, n.attrs ?? {}]);

  test('becomes the op graph PyTorch ran, one node per module', () => {
    const { manifest } = graph();
    expect(manifest.inputs).toEqual([{ name: 'x', shape: [c.input_size] }]);
    expect(manifest.outputs).toEqual(['y']);
    expect(ops(manifest.nodes)).toEqual(c.ops);
  });

  test("each linear holds PyTorch's weight [out, in], transposed back where ONNX stored [in, out]", () => {
    const { manifest, tensors } = graph();
    const unused = new Set(Object.keys(c.linear_weights));
    for (const n of manifest.nodes.filter((x) => x.op === 'linear')) {
      const { shape, v } = values(tensors, n.params!.weight!);
      // By name where the weight kept its state_dict name; else (a bias-free Linear is a MatMul of a folded transpose) by value.
      const key = c.linear_weights[`${n.name}.weight`] ? `${n.name}.weight` : [...unused].find((k) => c.linear_weights[k]!.flat().every((w, i) => w === v[i]));
      expect(key, `linear ${n.name}`).toBeDefined();
      const expected = c.linear_weights[key!]!;
      expect(shape).toEqual([expected.length, expected[0]!.length]);
      expect(v).toEqual(expected.flat());
      unused.delete(key!);
    }
    expect([...unused]).toEqual([]); // every Linear of the model is one linear node
  });

  test("computes PyTorch's float64 output (1e-9 of the output scale)", () => {
    const { manifest, tensors } = graph();
    const y = forwardV2(manifest, tensors, c.x, c.rows);
    const scale = Math.max(...c.y.map(Math.abs));
    expect(y.length).toBe(c.y.length);
    y.forEach((v, i) => expect(Math.abs(v - c.y[i]!), `y[${i}] = ${v}, PyTorch ${c.y[i]}`).toBeLessThanOrEqual(1e-9 * scale));
  });
});

type Model = onnxProto.onnx.ModelProto;
const encode = (m: Model) => onnx.ModelProto.encode(m).finish();
const edited = (name: string, edit: (m: Model) => void) => {
  const m = onnx.ModelProto.decode(file(name));
  edit(m);
  return encode(m);
};
const node = (m: Model, name: string) => m.graph!.node!.find((n) => n.name === name)!;
const scalar = (v: number) => onnx.TensorProto.create({ dims: [], dataType: 1, rawData: new Uint8Array(new Float32Array([v]).buffer) });
/** Replaces the value of the Constant node feeding `consumer`'s input `i`. */
const setConstant = (m: Model, consumer: string, i: number, v: number) => {
  const c = m.graph!.node!.find((n) => n.output![0] === node(m, consumer).input![i])!;
  c.attribute![0]!.t = scalar(v);
};

describe('graphs that are not exactly a supported op are refused, naming the node', () => {
  const refusals: [string, () => Uint8Array, RegExp][] = [
    ['a LayerNormalization over two axes', () => edited('gelu_ln.opset17.onnx', (m) => {
      node(m, '/blocks/blocks.0/norm/LayerNormalization').attribute!.find((a) => a.name === 'axis')!.i = 0;
    }), /LayerNormalization \(\/blocks\/blocks\.0\/norm\/LayerNormalization\) normalizes from axis 0, over more than the last dimension/],
    ['an unsupported op in the middle', () => file('softmax.opset13.onnx'), /Softmax \([^)]+\) is not supported here/],
    ['a LayerNorm pattern with another exponent', () => edited('gelu_ln.opset13.onnx', (m) => setConstant(m, '/blocks/blocks.0/norm/Pow', 1, 3)),
      /ReduceMean \(\/blocks\/blocks\.0\/norm\/ReduceMean\) is not supported here.*Pow \(\/blocks\/blocks\.0\/norm\/Pow\) raises to the power 3 where LayerNorm squares/],
    ['a GELU pattern with another constant', () => edited('gelu_ln.opset13.onnx', (m) => setConstant(m, '/blocks/blocks.1/activation/Mul_1', 1, 0.6)),
      /Erf \(\/blocks\/blocks\.1\/activation\/Erf\) is not supported here.*Mul \(\/blocks\/blocks\.1\/activation\/Mul_1\) ends what looks like an exact \(erf\) GELU, but its constants are 0\.6, 1, 0\.7071068 where GELU has 0\.5, 1, 0\.7071068/],
    ['a tanh GELU pattern with another cube coefficient', () => edited('gelu_tanh.opset13.onnx', (m) => setConstant(m, '/blocks/blocks.0/activation/Mul_2', 0, 0.05)),
      /Mul \(\/blocks\/blocks\.0\/activation\/Mul_5\) ends what looks like a tanh GELU, but its constants are 0\.5, 1, 0\.7978846, 0\.05/],
    ['a LayerNorm whose inner value is read elsewhere', () => edited('gelu_ln.opset13.onnx', (m) => {
      // z = (x - mean) + normalized, and the γ multiply reads z: the centred value now has a third reader.
      const g = m.graph!;
      const mul = node(m, '/blocks/blocks.0/norm/Mul');
      const at = g.node!.indexOf(mul);
      g.node!.splice(at, 0, onnx.NodeProto.create({ opType: 'Add', name: 'extra', input: ['/blocks/blocks.0/norm/Sub_output_0', mul.input![0]!], output: ['z'] }));
      mul.input![0] = 'z';
    }), /Sub \(\/blocks\/blocks\.0\/norm\/Sub\)'s output is also read by Add \(extra\)/],
  ];
  test.each(refusals)('%s', (_, bytes, message) => {
    expect(() => parseOnnx(bytes(), new Map())).toThrow(GraphError);
    expect(() => parseOnnx(bytes(), new Map())).toThrow(message);
  });
});

/** A model of one input [batch, 4] through the given nodes to "y", with float initializers. */
function tiny(nodes: onnxProto.onnx.INodeProto[], inits: Record<string, { dims: number[]; v: number[]; int64?: boolean }>, opset = 20): Uint8Array {
  const dim = (d: number | string) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d });
  const info = (name: string, dims: (number | string)[]) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: dims.map(dim) } } } });
  return encode(onnx.ModelProto.create({
    irVersion: 9,
    opsetImport: [{ domain: '', version: opset }],
    graph: {
      node: nodes,
      initializer: Object.entries(inits).map(([name, t]) => ({
        name,
        dims: t.dims,
        dataType: t.int64 ? 7 : 1,
        rawData: new Uint8Array((t.int64 ? BigInt64Array.from(t.v.map(BigInt)) : new Float32Array(t.v)).buffer),
      })),
      input: [info('x', ['batch', 4])],
      output: [info('y', ['batch', 3])],
    },
  }));
}
const weight = { dims: [3, 4], v: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((v) => v / 10) };
const attr = (name: string, v: string | number) =>
  typeof v === 'string' ? { name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(v) } : { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: v };

describe('single ops of later opsets and the MatMul + Add form', () => {
  test('Gelu (opset 20) with approximate="tanh", and LeakyRelu with its alpha', () => {
    const { manifest } = parseOnnx(tiny([
      { opType: 'Gemm', name: 'fc', input: ['x', 'w'], output: ['h'], attribute: [{ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] },
      { opType: 'Gelu', name: 'gelu', input: ['h'], output: ['g'], attribute: [attr('approximate', 'tanh')] },
      { opType: 'LeakyRelu', name: 'leaky', input: ['g'], output: ['y'], attribute: [attr('alpha', 0.2)] },
    ], { w: weight }), new Map());
    expect(manifest.nodes.map((n) => [n.op, n.name, n.attrs])).toEqual([
      ['linear', 'fc', undefined],
      ['activation', 'gelu', { fn: 'gelu', approximate: 'tanh' }],
      ['activation', 'leaky', { fn: 'leaky_relu', negative_slope: 0.2 }],
    ]);
  });

  test('a Gelu with an approximation resgpu does not know is refused by name', () => {
    const bytes = tiny([
      { opType: 'Gemm', name: 'fc', input: ['x', 'w'], output: ['h'], attribute: [{ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] },
      { opType: 'Gelu', name: 'gelu', input: ['h'], output: ['y'], attribute: [attr('approximate', 'fast')] },
    ], { w: weight });
    expect(() => parseOnnx(bytes, new Map())).toThrow(/Gelu \(gelu\) has approximate="fast"/);
  });

  test('Identity, Dropout, Flatten and a Reshape that keeps the row are nodes of their own', () => {
    const { manifest } = parseOnnx(tiny([
      { opType: 'Identity', name: 'id', input: ['x'], output: ['a'] },
      { opType: 'Dropout', name: 'drop', input: ['a'], output: ['b'] },
      { opType: 'Flatten', name: 'flat', input: ['b'], output: ['c'] },
      { opType: 'Reshape', name: 'reshape', input: ['c', 'shape'], output: ['d'] },
      { opType: 'Gemm', name: 'fc', input: ['d', 'w'], output: ['y'], attribute: [{ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] },
    ], { w: weight, shape: { dims: [2], v: [-1, 4], int64: true } }, 13), new Map());
    expect(manifest.nodes.map((n) => [n.op, n.name, n.inputs, n.output])).toEqual([
      ['identity', 'id', ['x'], 'a'],
      ['dropout', 'drop', ['a'], 'b'],
      ['flatten', 'flat', ['b'], 'c'],
      ['flatten', 'reshape', ['c'], 'd'],
      ['linear', 'fc', ['d'], 'y'],
    ]);
  });

  test('a node whose output nothing reads is refused, not dropped', () => {
    const bytes = tiny([
      { opType: 'Gemm', name: 'fc', input: ['x', 'w'], output: ['y'], attribute: [{ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] },
      { opType: 'Relu', name: 'dangling', input: ['y'], output: ['r'] },
    ], { w: weight });
    expect(() => parseOnnx(bytes, new Map())).toThrow(/the output of dangling \(activation\) is never used/);
  });

  test("MatMul then Add of a constant is one linear with the Add's output and a bias", () => {
    const { manifest, tensors } = parseOnnx(tiny([
      { opType: 'MatMul', name: 'mm', input: ['x', 'wt'], output: ['h'] },
      { opType: 'Add', name: 'bias', input: ['b', 'h'], output: ['y'] },
    ], { wt: { dims: [4, 3], v: weight.v }, b: { dims: [3], v: [0.5, -1, 2] } }, 13), new Map());
    expect(manifest.nodes).toEqual([{ op: 'linear', name: 'mm', inputs: ['x'], output: 'y', params: { weight: 'onnx.0.weight', bias: 'onnx.0.bias' } }]);
    // [in, out] = [[.1 .2 .3] [.4 .5 .6] …] back to [out, in].
    expect(values(tensors, 'onnx.0.weight').v.map((v) => Math.round(v * 10))).toEqual([1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12]);
    expect(values(tensors, 'onnx.0.bias').v).toEqual([0.5, -1, 2]);
  });
});

test('a chain of 30,000 Muls by a constant is refused in bounded time, with a bounded message', () => {
  const chain = Array.from({ length: 30_000 }, (_, i) => ({ opType: 'Mul', name: `m${i}`, input: [i === 0 ? 'h' : `v${i - 1}`, 'c'], output: [i === 29_999 ? 'y' : `v${i}`] }));
  const bytes = tiny([
    { opType: 'Gemm', name: 'fc', input: ['x', 'w'], output: ['h'], attribute: [{ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] },
    ...chain,
  ], { w: weight, c: { dims: [], v: [1.5] } });
  const started = performance.now();
  const e = (() => {
    try {
      parseOnnx(bytes, new Map());
    } catch (x) {
      return x as Error;
    }
  })();
  expect(e).toBeInstanceOf(GraphError);
  expect(e!.message).toMatch(/^This ONNX graph cannot run on resgpu: Mul \(m0\) is not supported here;.*; and 29970 more\.$/);
  expect(performance.now() - started).toBeLessThan(5000);
});
