import { GraphError } from '../errors.js';
import type { ModelSpec } from '../spec.js';
import { GRAPH_METADATA_KEY, parseManifest, type GraphManifest } from './manifest.js';
import { resolveGraph } from './resolve.js';
import { parseSafetensors } from './safetensors.js';
import { isByteSource, readBytes, type ByteSource, type ProgressCallback } from './source.js';

/** A weights file, or a weights file plus a graph given separately (the graph then wins). */
export type ModelSource = ByteSource | { weights: ByteSource; graph: GraphManifest | ByteSource };

/** Reads a model file into a ModelSpec: bytes → safetensors → manifest → checked layers. */
export async function loadModelSpec(source: ModelSource, onProgress?: ProgressCallback): Promise<ModelSpec> {
  const separate = !isByteSource(source) && typeof source === 'object' && source !== null && 'weights' in source;
  const bytes = await readBytes(separate ? source.weights : (source as ByteSource), onProgress);
  onProgress?.({ stage: 'parse', loadedBytes: bytes.byteLength, totalBytes: bytes.byteLength });
  const file = parseSafetensors(bytes);

  let graph: unknown;
  if (separate) {
    graph = isByteSource(source.graph) ? new TextDecoder().decode(await readBytes(source.graph)) : source.graph;
  } else {
    graph = file.metadata[GRAPH_METADATA_KEY];
    if (graph === undefined) {
      throw new GraphError(
        `The file has no graph: its safetensors __metadata__ lacks "${GRAPH_METADATA_KEY}". ` +
          'Pass one with loadModel({ weights, graph }), or write the file with tools/export_resgpu.py.',
      );
    }
  }
  return resolveGraph(parseManifest(graph), file.tensors);
}
