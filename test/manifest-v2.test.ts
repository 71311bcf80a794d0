import { describe, expect, test } from 'vitest';
import { encodeSafetensors, GraphError, loadModel, ModelFormatError, ResgpuError, type GraphManifestV2, type ManifestNode } from '../src/index.js';
import { makeRandomCnn } from './helpers/random-cnn.js';
import { makeRandomGraph } from './helpers/random-graph.js';

/**
 * Manifest version 2 (the op graph) as a contract: hostile and malformed graphs are refused with
 * typed errors naming the node, in bounded time; well-formed ones of any length load.
 */
const base = makeRandomGraph('prenorm', { fn: 'relu' });
const cpu = { backend: 'cpu' } as const;

function edited(edit: (m: GraphManifestV2) => void): { weights: Uint8Array; graph: GraphManifestV2 } {
  const graph = structuredClone(base.manifest);
  edit(graph);
  return { weights: base.bytes, graph };
}
const node = (m: GraphManifestV2, op: string, nth = 0): ManifestNode => m.nodes.filter((n) => n.op === op)[nth]!;

describe('refused, naming the problem', () => {
  const cases: [string, (m: GraphManifestV2) => void, typeof ModelFormatError | typeof GraphError, RegExp][] = [
    ['a cycle (a node reading its own output)', (m) => (m.nodes[1]!.inputs = [m.nodes[1]!.output]), ModelFormatError, /reads "v1" before any node writes it/],
    ['a value used before it is made', (m) => m.nodes.push(m.nodes.shift()!), ModelFormatError, /reads "v\d+" before any node writes it|reads "x"/],
    ['an unknown op', (m) => (m.nodes[0]!.op = 'softmax'), ModelFormatError, /nodes\[0\]\.op "softmax" is unknown \(resgpu runs linear, batchnorm/],
    ['an unknown activation', (m) => (node(m, 'activation').attrs = { fn: 'swish' }), ModelFormatError, /attrs\.fn must be one of relu, leaky_relu, gelu, silu, sigmoid, tanh, got "swish"/],
    ['an attribute the op does not have', (m) => (node(m, 'linear').attrs = { eps: 1 }), ModelFormatError, /unknown attrs "eps"/],
    ['a negative eps', (m) => (node(m, 'batchnorm').attrs = { eps: -1 }), ModelFormatError, /attrs\.eps must be a non-negative number/],
    ['a value written twice', (m) => (m.nodes[2]!.output = m.nodes[1]!.output), ModelFormatError, /writes "v1", which nodes\[1\] already writes/],
    ['a node whose output nothing reads', (m) => m.nodes.push({ op: 'activation', inputs: ['x'], output: 'dead', attrs: { fn: 'relu' } }), ModelFormatError, /writes "dead", which nothing reads/],
    ['a missing required tensor role', (m) => delete node(m, 'linear').params!.weight, ModelFormatError, /needs params\.weight/],
    ['a tensor role the op does not have', (m) => (node(m, 'linear').params!.gamma = 'first.weight'), ModelFormatError, /params has "gamma"; a linear has weight, bias/],
    ['a tensor the file lacks', (m) => (node(m, 'linear').params!.weight = 'nope'), GraphError, /needs tensor "nope" \(the weight of Linear "first"\), but the file has no such tensor/],
    ['a shape mismatch', (m) => (m.inputs[0].shape = [14]), GraphError, /"first\.weight" has shape \[21, 13\], but the graph needs \[21, 14\]/],
    ['adds of different widths', (m) => (node(m, 'add').inputs = ['x', node(m, 'add').inputs[1]!]), GraphError, /adds values of shapes \[13\] and \[21\]/],
    ['a BatchNorm with a weight and no bias', (m) => delete node(m, 'batchnorm').params!.bias, GraphError, /has a weight but no bias/],
    ['a shared tensor', (m) => (node(m, 'linear', 2).params!.weight = node(m, 'linear', 1).params!.weight!), GraphError, /has shape|already used/],
    ['no output', (m) => (m.outputs = ['nope']), ModelFormatError, /the output "nope" is written by no node/],
    ['two inputs', (m) => (m.inputs = [m.inputs[0], m.inputs[0]] as never), ModelFormatError, /"inputs" must be an array of one input/],
    ['a zero input width', (m) => (m.inputs[0].shape = [0]), ModelFormatError, /inputs\[0\]\.shape must be the row shape/],
  ];
  test.each(cases)('%s', async (_, edit, type, message) => {
    const failure = loadModel(edited(edit), cpu);
    await expect(failure).rejects.toBeInstanceOf(type);
    await expect(failure).rejects.toThrow(message);
  });
});

describe('size, in bounded time and memory', () => {
  const chain = (n: number): GraphManifestV2 => ({
    format: 'resgpu-graph',
    version: 2,
    inputs: [{ name: 'x', shape: [4] }],
    outputs: [`r${n - 1}`],
    nodes: Array.from({ length: n }, (_, k) => ({ op: 'activation', inputs: [k === 0 ? 'x' : `r${k - 1}`], output: `r${k}`, attrs: { fn: k % 2 ? 'relu' : 'tanh' } })),
  });
  const weights = encodeSafetensors([]);

  test('a 10,000-node graph loads and runs on the reference within a second', async () => {
    const started = performance.now();
    const model = await loadModel({ weights, graph: chain(10_000) }, cpu);
    const y = await model.run(Float32Array.from([-1, 0.5, 2, -3]));
    expect(performance.now() - started).toBeLessThan(1000);
    expect([...y].map((v) => v >= 0)).toEqual([true, true, true, true]); // relu last
  });

  test('10,001 nodes are refused before any node is read', async () => {
    const started = performance.now();
    const failure = loadModel({ weights, graph: chain(10_001) }, cpu);
    await expect(failure).rejects.toThrow(/10001 nodes, more than the 10000 resgpu runs/);
    expect(performance.now() - started).toBeLessThan(500);
  });

  test('a million-node manifest is refused as fast', async () => {
    const graph = { ...chain(1), nodes: new Array(1_000_000).fill(chain(1).nodes[0]) };
    const started = performance.now();
    await expect(loadModel({ weights, graph }, cpu)).rejects.toBeInstanceOf(ResgpuError);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

test('a version-2 manifest in a safetensors file is the graph of that file', async () => {
  const model = await loadModel(base.bytes, cpu);
  expect([model.inputSize, model.outputSize]).toEqual([13, 3]);
  expect(model.inputNames).toEqual(['x']);
  expect(model.describe().layers.map((l) => l.type)).toContain('batchnorm');
});

describe('preprocess: an image model\'s mean, std, size and color, checked against its input', () => {
  const rgb = makeRandomCnn('basic'); // [3, 17, 15]
  const gray = makeRandomCnn('bottleneck'); // [1, 16, 13]
  const withPreprocess = (cnn: typeof rgb, preprocess: unknown) => ({ weights: cnn.bytes, graph: { ...structuredClone(cnn.manifest), preprocess } as GraphManifestV2 });

  // On the reference backend; WebGPU's (RecoveringModel) is checked by serve/test/oip-vision.node.test.ts.
  test('loaded as model.preprocess, size and color filled in; absent when the file has none', async () => {
    const given = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
    const model = await loadModel(withPreprocess(rgb, given), cpu);
    expect(model.preprocess).toEqual({ ...given, size: [17, 15], color: 'rgb' });
    const g = await loadModel(withPreprocess(gray, { mean: [0.5], std: [0.25], size: [16, 13], color: 'gray' }), cpu);
    expect(g.preprocess).toEqual({ mean: [0.5], std: [0.25], size: [16, 13], color: 'gray' });
    const none = await loadModel({ weights: rgb.bytes, graph: rgb.manifest }, cpu);
    expect(none.preprocess).toBeUndefined();
  });

  const refusals: [string, typeof rgb, unknown, RegExp][] = [
    ['a mean of the wrong length', rgb, { mean: [0.5], std: [1, 1, 1] }, /preprocess\.mean must be 3 finite numbers, one per channel of the input \[3, 17, 15\]; got \[0\.5\]/],
    ['a zero std', rgb, { mean: [0, 0, 0], std: [1, 0, 1] }, /preprocess\.std must be 3 finite positive numbers/],
    ['a negative std', gray, { mean: [0], std: [-1] }, /preprocess\.std must be 1 finite positive number,/],
    ['a non-finite mean', rgb, { mean: [0, 'NaN', 0], std: [1, 1, 1] }, /preprocess\.mean must be 3 finite numbers/],
    ['no std', rgb, { mean: [0, 0, 0] }, /preprocess\.std must be .*; got nothing/],
    ['a size that is not the input\'s', rgb, { mean: [0, 0, 0], std: [1, 1, 1], size: [224, 224] }, /preprocess\.size must be the input's \[H, W\], \[17, 15\]/],
    ['gray for an RGB input', rgb, { mean: [0, 0, 0], std: [1, 1, 1], color: 'gray' }, /preprocess\.color must be "rgb" for an input of 3 channels/],
    ['bgr', rgb, { mean: [0, 0, 0], std: [1, 1, 1], color: 'bgr' }, /preprocess\.color must be "rgb"/],
    ['a step resgpu does not know', rgb, { mean: [0, 0, 0], std: [1, 1, 1], crop: [12, 12] }, /"preprocess" has "crop", which resgpu does not know/],
    ['not an object', rgb, [0.5], /"preprocess" must be an object/],
  ];
  test.each(refusals)('refused: %s', async (_, cnn, preprocess, message) => {
    const failure = loadModel(withPreprocess(cnn, preprocess), cpu);
    await expect(failure).rejects.toBeInstanceOf(ModelFormatError);
    await expect(failure).rejects.toThrow(message);
  });

  test('refused on a model whose input is not an image', async () => {
    const failure = loadModel(edited((m) => Object.assign(m, { preprocess: { mean: [0], std: [1] } })), cpu);
    await expect(failure).rejects.toThrow(/"preprocess" is for an image input \[1 or 3, H, W\]; this input is \[13\]/);
  });
});
