import { GraphError, ModelFormatError } from '../../errors.js';
import { DEFAULT_NORM_EPS as DEFAULT_BATCHNORM_EPS } from '../../graph/op-graph.js';
import type { GraphManifest } from '../manifest.js';
import type { IncrementalParser, RawTensor, TensorEvents, TensorMap } from '../tensors.js';
import { decodeModel, num, rawTensor } from './decode.js';
import { toLayers } from './layers.js';
import { Rewrite, RULES } from './rules.js';

/**
 * ONNX models of residual MLPs, as torch.onnx.export writes them (opsets 11 to 17), rewritten
 * onto the same layers as a native model by the rules of rules.ts. Anything else fails with
 * the op types and node names that stand in the way: an op is never dropped.
 */
export interface OnnxModel {
  tensors: TensorMap;
  manifest: GraphManifest;
}

export function parseOnnx(bytes: Uint8Array, external: Map<string, Uint8Array>): OnnxModel {
  const graph = decodeModel(bytes).graph;
  if (!graph) throw new ModelFormatError('Malformed ONNX file: the model has no graph.');
  const init = new Map<string, RawTensor>();
  for (const t of graph.initializer ?? []) {
    // onnxruntime refuses duplicate initializer names; taking the last would run weights no one chose.
    if (init.has(t.name ?? '')) throw new ModelFormatError(`Malformed ONNX file: two initializers are named "${t.name}".`);
    init.set(t.name ?? '', rawTensor(t, external));
  }
  const r = new Rewrite(init, external);
  const inputs = (graph.input ?? []).filter((i) => !init.has(i.name ?? ''));
  if (inputs.length !== 1) r.problems.push(`${inputs.length} graph inputs (${inputs.map((i) => i.name).join(', ')}); resgpu runs models with one`);
  const dims = inputs[0]?.type?.tensorType?.shape?.dim ?? [];
  const width = num(dims[1]?.dimValue);
  if (inputs.length === 1 && (dims.length !== 2 || !(width > 0))) r.problems.push(`input "${inputs[0]!.name}" is not [batch, features] with fixed features`);
  if (inputs[0]) r.values.set(inputs[0].name ?? '', { op: 'input', width });

  for (const n of graph.node ?? []) {
    const what = `${n.opType} (${n.name || n.output?.[0]})`;
    const rule = RULES[n.opType ?? ''];
    if (!rule || !rule(n, r, what)) r.problems.push(`${what} is not supported here`);
  }

  const outputs = graph.output ?? [];
  if (outputs.length !== 1) r.problems.push(`${outputs.length} graph outputs; resgpu runs models with one`);
  const result = r.values.get(outputs[0]?.name ?? '');
  if (r.problems.length === 0 && !result) r.problems.push(`the output "${outputs[0]?.name}" is not computed from the input by supported ops`);
  const layers = r.problems.length === 0 ? toLayers(result!, r.problems) : [];
  if (r.problems.length > 0) {
    throw new GraphError(`This ONNX graph cannot run on resgpu: ${[...new Set(r.problems)].join('; ')}.`);
  }
  return {
    tensors: r.tensors,
    manifest: {
      format: 'resgpu-graph',
      version: 1,
      input: width,
      layers,
      batchnorm_eps: r.eps ?? DEFAULT_BATCHNORM_EPS,
      input_names: [inputs[0]!.name ?? ''],
      output_names: [outputs[0]!.name ?? ''],
    },
  };
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

