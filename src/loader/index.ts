import { GraphError, ModelFormatError, OptionError } from '../errors.js';
import { sha256 } from '../graph/fingerprint.js';
import { release as releaseMemory } from '../memory.js';
import type { OpGraph, OpNode } from '../graph/op-graph.js';
import type { ProgressCallback, StreamedModel } from '../graph/stream.js';
import { weightParser } from './formats.js';
import { v1ToV2, type GraphExtras } from './graph-v1.js';
import { GRAPH_METADATA_KEY, parseManifest, type GraphManifest } from './manifest.js';
import type { CheckedManifestV2, GraphManifestV2 } from './manifest-v2.js';
import { nodeTensors, resolveGraph } from './resolve.js';
import { byteChunks, isByteSource, readBytes, type ByteSource } from './source.js';
import { formatShape, type RawTensor, type TensorMap } from './tensors.js';

/**
 * A model file (.safetensors, a torch.save'd state_dict .pt/.pth, or .onnx); or a weights file
 * plus a graph given separately (the graph then wins); or an ONNX model with the external
 * data files its initializers name, by file name.
 */
export type ModelSource =
  | ByteSource
  | { weights: ByteSource; graph: GraphManifest | GraphManifestV2 | ByteSource }
  | { model: ByteSource; externalData: Record<string, ByteSource> };

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

function deferred<T>(): Deferred<T> {
  const d = {} as Deferred<T>;
  d.promise = new Promise<T>((resolve, reject) => Object.assign(d, { resolve, reject }));
  d.promise.catch(() => undefined); // a load that fails early leaves later promises unawaited
  return d;
}

/**
 * Starts reading a model: bytes → tensors as they arrive → graph → checked layers (the stream
 * contract of graph/stream.ts). `inputShape` (the checked load option) is the input's row shape:
 * what a state_dict of an image model does not record, and what an ONNX file may leave dynamic;
 * where the file records it, the two must agree.
 */
export function streamModel(source: ModelSource, onProgress?: ProgressCallback, signal?: AbortSignal, inputShape?: readonly number[]): StreamedModel {
  const abort = new AbortController();
  // The caller's signal stops this stream too; the stream's own controller also serves cancel().
  if (signal?.aborted) abort.abort();
  else signal?.addEventListener('abort', () => abort.abort(), { once: true });
  const separate = !isByteSource(source) && typeof source === 'object' && source !== null && 'weights' in source;
  const withData = !isByteSource(source) && typeof source === 'object' && source !== null && 'model' in source;
  if (withData && (typeof source.externalData !== 'object' || source.externalData === null)) {
    throw new ModelFormatError('loadModel({ model, externalData }) needs externalData to be an object mapping file names to their URLs or bytes.');
  }
  if (separate && (source.graph === null || (typeof source.graph !== 'object' && typeof source.graph !== 'string'))) {
    throw new ModelFormatError('loadModel({ weights, graph }) needs a graph: a manifest object, its JSON text, or a URL or bytes holding it.');
  }
  const file = separate ? source.weights : withData ? source.model : (source as ByteSource);
  const shapes = deferred<OpGraph>();
  const finished = deferred<void>();
  let nodes: Deferred<OpNode>[] = [];
  const arrived: TensorMap = new Map();
  let manifest: { graph: CheckedManifestV2; extras: GraphExtras } | null = null;
  let opGraph: OpGraph | null = null;

  // Node i is released once `missing[i]` of its tensors have all arrived: a count per node and
  // the node of each tensor (a tensor is used once), so each arriving tensor costs what it touches.
  let missing: number[] = [];
  let nodeOfKey = new Map<string, number>();
  const release = (i: number) => {
    const node = opGraph!.nodes[i]!;
    nodes[i]!.resolve({ ...node, tensors: nodeTensors(node, arrived) });
  };
  const arrive = (key: string) => {
    const i = nodeOfKey.get(key);
    if (i !== undefined && --missing[i]! === 0) release(i);
    nodeOfKey.delete(key);
  };

  const pump = async () => {
    const graph = separate
      ? isByteSource(source.graph) ? new TextDecoder().decode(await readBytes(source.graph, undefined, abort.signal)) : source.graph
      : undefined;
    const external = new Map<string, Uint8Array>();
    if (withData) for (const [name, s] of Object.entries(source.externalData)) external.set(name, await readBytes(s, undefined, abort.signal));
    const parser = weightParser({
      header(tensors, embedded, format, infer) {
        onProgress?.({ stage: 'parse', loadedBytes: 0, totalBytes: null });
        const chosen = graph ?? embedded;
        if (chosen === undefined && format === 'safetensors') {
          throw new GraphError(
            `The file has no graph: its safetensors __metadata__ lacks "${GRAPH_METADATA_KEY}". ` +
              'Pass one with loadModel({ weights, graph }), or write the file with the bundled Python exporter: ' +
                'npx resgpu export whole_model.pth out.safetensors (tools/export_resgpu.py in the package).',
          );
        }
        // Only a .pt comes without a graph, and its parser brings the inference along (formats.ts).
        const parsed = chosen === undefined ? infer!(tensors, inputShape) : parseManifest(chosen);
        if (inputShape) checkInputShape(parsed.version === 1 ? [parsed.input] : parsed.inputs[0].shape, inputShape, format);
        manifest = parsed.version === 1 ? (({ manifest: g, extras }) => ({ graph: g, extras }))(v1ToV2(parsed, tensors)) : { graph: parsed, extras: {} };
        // Shapes only: every check runs now, before any data or GPU memory is touched.
        const empty = new Map([...tensors].map(([k, t]): [string, RawTensor] => [k, { ...t, bytes: new Uint8Array(0) }]));
        opGraph = resolveGraph(manifest.graph, empty, manifest.extras);
        nodes = opGraph.nodes.map(() => deferred<OpNode>());
        missing = opGraph.nodes.map((n) => Object.keys(n.params).length);
        nodeOfKey = new Map();
        opGraph.nodes.forEach((n, i) => Object.values(n.params).forEach((key) => nodeOfKey.set(key, i)));
        shapes.resolve(opGraph);
        // Nodes without tensors (activations, adds) are complete now.
        missing.forEach((m, i) => m === 0 && release(i));
        // Tensors that arrived with the header (ONNX, or storages before data.pkl) count now.
        for (const key of [...arrived.keys()]) arrive(key);
      },
      tensor(t) {
        arrived.set(t.name, t);
        if (manifest) arrive(t.name);
      },
    }, external, inputShape);
    let last = { file: new Uint8Array(0) as Uint8Array, arrived: 0 };
    for await (const a of byteChunks(file, onProgress, abort.signal)) parser.advance((last = a));
    await parser.finish(last);
    return last.file.subarray(0, last.arrived);
  };
  let bytes: Uint8Array | null = null;
  pump().then(
    (read) => {
      bytes = read;
      finished.resolve();
    },
    (e) => [shapes, finished, ...nodes].forEach((d) => d.reject(e)),
  );

  return {
    shapes: shapes.promise,
    node: (i) => shapes.promise.then(() => nodes[i]!.promise),
    finished: finished.promise,
    complete: () => finished.promise.then(() => resolveGraph(manifest!.graph, arrived, manifest!.extras)),
    fileDigest: () => finished.promise.then(() => sha256(bytes!)),
    cancel: () => abort.abort(),
    release() {
      // Only a buffer byteChunks allocated: an ArrayBuffer or view given to loadModel is the caller's.
      const given = file instanceof ArrayBuffer || ArrayBuffer.isView(file);
      if (bytes && !given) releaseMemory(bytes);
      bytes = null;
      arrived.clear();
    },
  };
}

/** The load option inputShape against the row shape the file records (or its graph infers). */
function checkInputShape(file: readonly number[], option: readonly number[], format: string): void {
  if (file.length === option.length && file.every((d, i) => d === option[i])) return;
  throw new OptionError(
    `inputShape ${formatShape([...option])} disagrees with the ${format === 'onnx' ? 'ONNX file' : format === 'pytorch' ? 'model' : 'graph manifest'}, whose input is ` +
      `${formatShape([...file])} per row (without the batch). Pass the shape the model was made for, or leave inputShape out.`,
  );
}
