import { GraphError, ModelFormatError } from '../errors.js';
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

/**
 * The keys of `tensors` each layer reads (a key belongs to a layer when it starts with one of
 * the prefixes the layer names), found by looking up each key's dotted prefixes: linear in the
 * number of keys, where scanning every key per layer was quadratic in files of many layers.
 */
function keysByLayer(layers: readonly ManifestLayer[], tensors: TensorMap): string[][] {
  const owner = new Map<string, number[]>();
  layers.forEach((layer, i) => {
    for (const [k, v] of Object.entries(layer)) {
      if (k === 'type' || k === 'activation' || typeof v !== 'string') continue;
      const list = owner.get(v);
      if (list) list.push(i);
      else owner.set(v, [i]);
    }
  });
  const keys = layers.map((): string[] => []);
  for (const key of tensors.keys()) {
    const found = new Set<number>();
    for (let dot = key.indexOf('.'); dot > 0; dot = key.indexOf('.', dot + 1)) {
      for (const i of owner.get(key.slice(0, dot)) ?? []) found.add(i);
    }
    for (const i of found) keys[i]!.push(key);
  }
  return keys;
}

/** Starts reading a model: bytes → tensors as they arrive → graph → checked layers (the stream contract of graph/stream.ts). */
export function streamModelSpec(source: ModelSource, onProgress?: ProgressCallback, signal?: AbortSignal): StreamedModel {
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
  const shapes = deferred<ModelSpec>();
  const finished = deferred<void>();
  let layers: Deferred<LayerSpec>[] = [];
  const arrived: TensorMap = new Map();
  let manifest: CheckedManifest | null = null;
  let widths: number[] = [];

  // Layer i is released once `missing[i]` of its keys have all arrived: a count per layer and
  // a list of layers per key, so each arriving tensor costs what it touches.
  let missing: number[] = [];
  let layersOfKey = new Map<string, number[]>();
  const release = (i: number) => {
    const one = { ...manifest!, input: widths[i]!, layers: [manifest!.layers[i]!] };
    layers[i]!.resolve(resolveGraph(one, arrived).layers[0]!);
  };
  const arrive = (key: string) => {
    for (const i of layersOfKey.get(key) ?? []) if (--missing[i]! === 0) release(i);
    layersOfKey.delete(key);
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
        const keys = keysByLayer(manifest.layers, tensors);
        layers = manifest.layers.map(() => deferred<LayerSpec>());
        missing = keys.map((k) => k.length);
        layersOfKey = new Map();
        keys.forEach((k, i) => k.forEach((key) => (layersOfKey.get(key) ?? layersOfKey.set(key, []).get(key)!).push(i)));
        shapes.resolve(spec);
        // Tensors that arrived with the header (ONNX, or storages before data.pkl) count now.
        for (const key of [...arrived.keys()]) arrive(key);
      },
      tensor(t) {
        arrived.set(t.name, t);
        if (manifest) arrive(t.name);
      },
    }, external);
    let last = { file: new Uint8Array(0) as Uint8Array, arrived: 0 };
    for await (const a of byteChunks(file, onProgress, abort.signal)) parser.advance((last = a));
    await parser.finish(last);
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
