import { AbortError, GraphError } from '../errors.js';
import type { LayerSpec, ModelSpec } from '../graph/spec.js';
import { layerOutputSize } from '../graph/spec.js';
import type { ProgressCallback, StreamedModel } from '../graph/stream.js';
import { weightParser } from './formats.js';
import { inferGraph } from './infer-graph.js';
import { GRAPH_METADATA_KEY, parseManifest, type CheckedManifest, type GraphManifest, type ManifestLayer } from './manifest.js';
import { resolveGraph } from './resolve.js';
import { byteChunks, isByteSource, readBytes, type ByteSource } from './source.js';
import type { RawTensor, TensorMap } from './tensors.js';

/**
 * A model file (.safetensors, a torch.save'd state_dict .pt/.pth, or .onnx); or a weights file
 * plus a graph given separately (the graph then wins); or an ONNX model with the external
 * data files its initializers name, by file name.
 */
export type ModelSource =
  | ByteSource
  | { weights: ByteSource; graph: GraphManifest | ByteSource }
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

/** Every key of `tensors` that belongs to a prefix the layer names. */
function layerKeys(layer: ManifestLayer, tensors: TensorMap): string[] {
  const prefixes = Object.entries(layer)
    .filter(([k, v]) => k !== 'type' && k !== 'activation' && typeof v === 'string')
    .map(([, v]) => `${v as string}.`);
  return [...tensors.keys()].filter((key) => prefixes.some((p) => key.startsWith(p)));
}

/** Starts reading a model: bytes → tensors as they arrive → graph → checked layers (the stream contract of graph/stream.ts). */
export function streamModelSpec(source: ModelSource, onProgress?: ProgressCallback): StreamedModel {
  const abort = new AbortController();
  const separate = !isByteSource(source) && typeof source === 'object' && source !== null && 'weights' in source;
  const withData = !isByteSource(source) && typeof source === 'object' && source !== null && 'model' in source;
  const file = separate ? source.weights : withData ? source.model : (source as ByteSource);
  const shapes = deferred<ModelSpec>();
  const finished = deferred<void>();
  let layers: Deferred<LayerSpec>[] = [];
  const arrived: TensorMap = new Map();
  let manifest: CheckedManifest | null = null;
  let pendingKeys: string[][] = [];
  let widths: number[] = [];

  const releaseLayers = () => {
    pendingKeys.forEach((keys, i) => {
      if (keys.length === 0 || !keys.every((k) => arrived.has(k))) return;
      pendingKeys[i] = [];
      const one = { ...manifest!, input: widths[i]!, layers: [manifest!.layers[i]!] };
      layers[i]!.resolve(resolveGraph(one, arrived).layers[0]!);
    });
  };

  const pump = async () => {
    const graph = separate
      ? isByteSource(source.graph) ? new TextDecoder().decode(await readBytes(source.graph, undefined, abort.signal)) : source.graph
      : undefined;
    const external = new Map<string, Uint8Array>();
    if (withData) for (const [name, s] of Object.entries(source.externalData)) external.set(name, await readBytes(s, undefined, abort.signal));
    const parser = weightParser({
      header(tensors, embedded, format) {
        onProgress?.({ stage: 'parse', loadedBytes: 0, totalBytes: null });
        const chosen = graph ?? embedded;
        if (chosen === undefined && format === 'safetensors') {
          throw new GraphError(
            `The file has no graph: its safetensors __metadata__ lacks "${GRAPH_METADATA_KEY}". ` +
              'Pass one with loadModel({ weights, graph }), or write the file with the bundled Python exporter: ' +
                'npx resgpu export whole_model.pth out.safetensors (tools/export_resgpu.py in the package).',
          );
        }
        manifest = chosen === undefined ? inferGraph(tensors) : parseManifest(chosen);
        // Shapes only: every check runs now, before any data or GPU memory is touched.
        const empty = new Map([...tensors].map(([k, t]): [string, RawTensor] => [k, { ...t, bytes: new Uint8Array(0) }]));
        const spec = resolveGraph(manifest, empty);
        widths = [spec.inputSize, ...spec.layers.map(layerOutputSize)];
        pendingKeys = manifest.layers.map((l) => layerKeys(l, tensors));
        layers = manifest.layers.map(() => deferred<LayerSpec>());
        shapes.resolve(spec);
      },
      tensor(t) {
        arrived.set(t.name, t);
        if (manifest) releaseLayers();
      },
    }, external);
    let last = { file: new Uint8Array(0) as Uint8Array, arrived: 0 };
    for await (const a of byteChunks(file, onProgress, abort.signal)) parser.advance((last = a));
    await parser.finish(last);
    releaseLayers();
  };
  pump().then(
    () => finished.resolve(),
    (e) => [shapes, finished, ...layers].forEach((d) => d.reject(e)),
  );

  return {
    shapes: shapes.promise,
    layer: (i) => shapes.promise.then(() => layers[i]!.promise),
    finished: finished.promise,
    complete: () => finished.promise.then(() => resolveGraph(manifest!, arrived)),
    cancel: () => abort.abort(),
  };
}
