import { describe, expect, test } from 'vitest';
import { encodeSafetensors, GraphError, loadModel, ModelFormatError, ResgpuError, type GraphManifestV2, type ManifestNode } from '../src/index.js';
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
