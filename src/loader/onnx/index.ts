import { GraphError, ModelFormatError } from '../../errors.js';
import type { GraphManifestV2 } from '../manifest-v2.js';
import type { IncrementalParser, TensorEvents, TensorMap } from '../tensors.js';
import { decodeModel, num, rawTensor, type Node } from './decode.js';
import { describeNode, OnnxGraph } from './graph.js';
import { PATTERNS, type PatternMatch } from './patterns.js';
import { RULES } from './rules.js';

/**
 * ONNX models as the op graph (manifest version 2), as torch.onnx.export writes them (opsets
 * 11 to 17; Gelu and LayerNormalization nodes of later opsets too): each op maps to op-graph
 * nodes by the rules of rules.ts, after the decomposed forms older opsets write (LayerNorm,
 * GELU, SiLU) are matched back into one node each (patterns.ts). Anything else fails with the
 * op types and node names that stand in the way: an op is never dropped or guessed.
 */
export interface OnnxModel {
  tensors: TensorMap;
  manifest: GraphManifestV2;
}

/** More ONNX nodes than this is no residual network; refused before any per-node work. */
export const MAX_ONNX_NODES = 200_000;
/** The op graph's own cap (docs/MODEL-FORMAT.md, manifest version 2). */
const MAX_GRAPH_NODES = 10_000;
/** Input features: the declared width sizes broadcast constants (a scalar LayerNorm γ on the input), so a hostile shape must not. */
export const MAX_INPUT_FEATURES = 1 << 24;
/** Problems a refusal lists before "and N more". */
const MAX_LISTED = 30;

export function parseOnnx(bytes: Uint8Array, external: Map<string, Uint8Array>): OnnxModel {
  const graph = decodeModel(bytes).graph;
  if (!graph) throw new ModelFormatError('Malformed ONNX file: the model has no graph.');
  const nodes = graph.node ?? [];
  if (nodes.length > MAX_ONNX_NODES) throw new GraphError(`This ONNX graph has ${nodes.length} nodes, more than the ${MAX_ONNX_NODES} resgpu reads.`);
  const outputs = graph.output ?? [];
  const g = new OnnxGraph(nodes, new Set(outputs.map((o) => o.name ?? '')), external);
  for (const t of graph.initializer ?? []) {
    // onnxruntime refuses duplicate initializer names; taking the last would run weights no one chose.
    if (g.consts.has(t.name ?? '')) throw new ModelFormatError(`Malformed ONNX file: two initializers are named "${t.name}".`);
    g.consts.set(t.name ?? '', rawTensor(t, external));
  }
  const inputs = (graph.input ?? []).filter((i) => !g.consts.has(i.name ?? ''));
  if (inputs.length !== 1) g.problems.push(`${inputs.length} graph inputs (${inputs.map((i) => i.name).join(', ')}); resgpu runs models with one`);
  const dims = inputs[0]?.type?.tensorType?.shape?.dim ?? [];
  const width = num(dims[1]?.dimValue);
  if (inputs.length === 1 && (dims.length !== 2 || !(width > 0))) g.problems.push(`input "${inputs[0]!.name}" is not [batch, features] with fixed features`);
  if (width > MAX_INPUT_FEATURES) throw new GraphError(`This ONNX graph's input has ${width} features, more than the ${MAX_INPUT_FEATURES} resgpu reads.`);
  if (inputs[0]) g.widths.set(inputs[0].name ?? '', width);

  // Constants first: the patterns read them.
  const done = new Set<Node>(nodes.filter((n) => n.opType === 'Constant'));
  for (const n of done) if (!RULES.Constant!(n, g, describeNode(n))) g.problems.push(`${describeNode(n)} is not supported here`);
  const { anchors, misses } = matchPatterns(nodes, g, done);
  for (const n of nodes) {
    if (done.has(n)) continue;
    const what = describeNode(n);
    const pattern = anchors.get(n);
    const rule = RULES[n.opType ?? ''];
    if (!(pattern ? pattern.emit(g, what) : rule?.(n, g, what))) g.problems.push(`${what} is not supported here`);
  }

  if (outputs.length !== 1) g.problems.push(`${outputs.length} graph outputs; resgpu runs models with one`);
  const output = outputs[0]?.name ?? '';
  if (g.problems.length === 0 && !g.nodes.some((n) => n.output === output)) g.problems.push(`the output "${output}" is not computed from the input by supported ops`);
  if (g.problems.length === 0) unread(g, output); // else a refused reader left it unread
  if (g.nodes.length > MAX_GRAPH_NODES) g.problems.push(`it makes ${g.nodes.length} op-graph nodes, more than the ${MAX_GRAPH_NODES} resgpu runs`);
  if (g.problems.length > 0) {
    const all = [...new Set([...g.problems, ...misses])];
    // A message a person can read: a hostile graph can have a problem per node.
    const shown = all.length > MAX_LISTED ? [...all.slice(0, MAX_LISTED), `and ${all.length - MAX_LISTED} more`] : all;
    throw new GraphError(`This ONNX graph cannot run on resgpu: ${shown.join('; ')}.`);
  }
  return {
    tensors: g.tensors,
    manifest: { format: 'resgpu-graph', version: 2, inputs: [{ name: inputs[0]!.name ?? '', shape: [width] }], outputs: [output], nodes: g.nodes },
  };
}

/**
 * The decomposed forms, matched from the last node back so the outermost match wins (the Add
 * of a LayerNorm's β before the Mul of its γ). Returns the matches by anchor, and what nearly
 * matched (reported only if the graph is refused: its nodes are then unsupported anyway).
 */
function matchPatterns(nodes: readonly Node[], g: OnnxGraph, done: Set<Node>) {
  const anchors = new Map<Node, PatternMatch>();
  const misses: string[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (done.has(n)) continue;
    const tried = PATTERNS.filter((p) => p.anchors.includes(n.opType ?? '')).map((p) => p.match(n, g));
    const match = tried.find((m): m is PatternMatch => typeof m === 'object' && m !== null);
    if (match) {
      anchors.set(n, match);
      for (const inner of match.nodes) if (inner !== n) done.add(inner);
    } else {
      misses.push(...tried.filter((m): m is string => typeof m === 'string'));
    }
  }
  return { anchors, misses };
}

/** A node whose output nothing reads would be dropped silently by any runtime: refused, as the op graph requires. */
function unread(g: OnnxGraph, output: string): void {
  const read = new Set([output, ...g.nodes.flatMap((n) => n.inputs)]);
  for (const n of g.nodes) if (!read.has(n.output)) g.problems.push(`the output of ${n.name} (${n.op}) is never used`);
}

/** ONNX is one protobuf message: it is decoded once the whole file is in. */
export function onnxParser(events: TensorEvents, external: Map<string, Uint8Array>): IncrementalParser {
  return {
    advance: () => undefined,
    finish(a) {
      const { tensors, manifest } = parseOnnx(a.file.subarray(0, a.arrived), external);
      events.header(tensors, manifest, 'onnx');
      for (const t of tensors.values()) events.tensor(t);
    },
  };
}
