import { GraphError, ModelFormatError } from '../errors.js';
import { parseGolden } from './golden.js';
import { KINDS } from '../graph/kinds/registry.js';
import { graphSizes, type FloatArray, type OpGraph, type OpNode, type ValueInfo } from '../graph/op-graph.js';
import { decodeFloats } from './dtype.js';
import { v1ToV2, type GraphExtras } from './graph-v1.js';
import { checkEachPrefixOnce, type CheckedManifest } from './manifest.js';
import type { CheckedManifestV2 } from './manifest-v2.js';
import { formatShape, type TensorMap } from './tensors.js';

/**
 * Binds a version-2 manifest to the tensors of a file: looks up every tensor a node names,
 * checks its shape by the node's kind, and decodes the floats that have arrived (none at header
 * time: then only shapes are checked). Every check happens here, before any backend allocates
 * anything, so a bad model leaves nothing behind.
 */
export function resolveGraph(m: CheckedManifestV2, tensors: TensorMap, extras: GraphExtras = {}): OpGraph {
  const input = m.inputs[0];
  const values: ValueInfo[] = [{ name: input.name, shape: [...input.shape] }];
  const ids = new Map<string, number>([[input.name, 0]]);
  const usedBy = new Map<string, string>();
  const nodes = m.nodes.map((n): OpNode => {
    const kind = KINDS[n.op]!;
    const where = `${kind.title} "${n.name}"`;
    const inputs = n.inputs.map((v) => ids.get(v)!);
    const fileShapes: Record<string, readonly number[]> = {};
    for (const [role, key] of Object.entries(n.params)) {
      const t = tensors.get(key);
      if (!t) throw new GraphError(`The graph needs tensor "${key}" (the ${role} of ${where}), but the file has no such tensor.`);
      decodeFloats(t.dtype, new Uint8Array(0), `Tensor "${key}"`); // a dtype resgpu cannot read fails now, before any allocation
      fileShapes[role] = t.shape;
    }
    const { output, params } = kind.shapes({ where, inputs: inputs.map((v) => values[v]!.shape), attrs: n.attrs, tensors: fileShapes });
    const shapes: Record<string, number[]> = {};
    for (const [role, key] of Object.entries(n.params)) {
      const want = params[role]!;
      const got = fileShapes[role]!;
      if (got.length !== want.shape.length || got.some((d, j) => d !== want.shape[j])) {
        throw new GraphError(`Tensor "${key}" has shape ${formatShape(got)}, but the graph needs ${formatShape(want.shape)} (${want.why}).`);
      }
      shapes[role] = want.shape;
    }
    values.push({ name: n.output, shape: output });
    ids.set(n.output, values.length - 1);
    return { op: n.op, name: n.name, inputs, output: values.length - 1, attrs: n.attrs, params: n.params, shapes, tensors: {} };
  });
  // After the shapes, so that a shape error is reported as such. Shared weights are refused:
  // nothing in the model families needs them, and a manifest naming one tiny tensor thousands
  // of times would cost memory out of all proportion to the file.
  if (extras.v1Layers) checkEachPrefixOnce(extras.v1Layers);
  else {
    m.nodes.forEach((n) => {
      for (const key of Object.values(n.params)) {
        const before = usedBy.get(key);
        if (before) throw new GraphError(`The graph's node "${n.name}" names tensor "${key}", already used by "${before}"; each tensor is used once (shared weights are not supported).`);
        usedBy.set(key, n.name);
      }
    });
  }
  const output = ids.get(m.outputs[0])!;
  const graph: OpGraph = { values, nodes, output };
  // A version-2 manifest names its input and output; a version-1 one only where it kept ONNX's names.
  const inputNames = extras.layers ? extras.inputNames : (extras.inputNames ?? [input.name]);
  if (inputNames) Object.assign(graph, { inputNames, outputNames: extras.outputNames ?? [m.outputs[0]] });
  if (m.features) {
    const width = values[0]!.shape.reduce((a, b) => a * b, 1);
    if (m.features.length !== width || new Set(m.features).size !== width) {
      throw new GraphError(`Invalid graph manifest: "features" must name each of the ${width} inputs once (got ${m.features.length} names).`);
    }
    graph.features = m.features;
  }
  if (m.labels) graph.labels = m.labels;
  if ('preprocess' in m && m.preprocess) graph.preprocess = m.preprocess;
  if (m.golden) graph.golden = parseGolden(m.golden, graphSizes(graph), (why) => new ModelFormatError(`Invalid graph manifest: ${why}.`));
  if (extras.layers) {
    const width = (name: string) => values[ids.get(name)!]!.shape[0]!;
    graph.layers = extras.layers.map(({ input: i, output: o, ...l }) => ({ ...l, inFeatures: width(i), outFeatures: width(o) }));
  }
  for (const node of nodes) if (Object.keys(node.params).every((r) => tensors.get(node.params[r]!)!.bytes.length > 0)) node.tensors = nodeTensors(node, tensors);
  return graph;
}

/** A node's tensors, decoded (the shapes were checked by resolveGraph). */
export function nodeTensors(node: Pick<OpNode, 'params'>, tensors: TensorMap): Record<string, FloatArray> {
  const out: Record<string, FloatArray> = {};
  for (const [role, key] of Object.entries(node.params)) {
    const t = tensors.get(key)!;
    out[role] = decodeFloats(t.dtype, t.bytes, `Tensor "${key}"`);
  }
  return out;
}

/** A checked manifest of either version, bound to its tensors (see resolveGraph). */
export function graphOf(m: CheckedManifest | CheckedManifestV2, tensors: TensorMap): OpGraph {
  if (m.version === 2) return resolveGraph(m, tensors);
  const { manifest, extras } = v1ToV2(m, tensors);
  return resolveGraph(manifest, tensors, extras);
}
