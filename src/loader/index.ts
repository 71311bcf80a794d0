import { GraphError, ModelFormatError } from '../errors.js';
import { inferGraph } from './infer-graph.js';
import { isLegacyTorch, isZip, LEGACY_TORCH_MESSAGE, parseTorchZip } from './pytorch.js';
import type { TensorMap } from './tensors.js';
import type { ModelSpec } from '../spec.js';
import { GRAPH_METADATA_KEY, parseManifest, type GraphManifest } from './manifest.js';
import { resolveGraph } from './resolve.js';
import { parseSafetensors } from './safetensors.js';
import { isByteSource, readBytes, type ByteSource, type ProgressCallback } from './source.js';

/**
 * A weights file (.safetensors, or a torch.save'd state_dict .pt/.pth), or a weights file plus
 * a graph given separately (the graph then wins).
 */
export type ModelSource = ByteSource | { weights: ByteSource; graph: GraphManifest | ByteSource };

/** Reads a model file into a ModelSpec: bytes → tensors → graph → checked layers. */
export async function loadModelSpec(source: ModelSource, onProgress?: ProgressCallback): Promise<ModelSpec> {
  const separate = !isByteSource(source) && typeof source === 'object' && source !== null && 'weights' in source;
  const bytes = await readBytes(separate ? source.weights : (source as ByteSource), onProgress);
  onProgress?.({ stage: 'parse', loadedBytes: bytes.byteLength, totalBytes: bytes.byteLength });
  const file = parseWeights(bytes);

  // An explicit graph wins; then one embedded in the file; then, for a state_dict, inference.
  let graph: unknown = file.graph;
  if (separate) {
    graph = isByteSource(source.graph) ? new TextDecoder().decode(await readBytes(source.graph)) : source.graph;
  } else if (graph === undefined) {
    if (file.format === 'safetensors') {
      throw new GraphError(
        `The file has no graph: its safetensors __metadata__ lacks "${GRAPH_METADATA_KEY}". ` +
          'Pass one with loadModel({ weights, graph }), or write the file with tools/export_resgpu.py.',
      );
    }
    return resolveGraph(inferGraph(file.tensors), file.tensors);
  }
  return resolveGraph(parseManifest(graph), file.tensors);
}

/** The weight formats, told apart by their first bytes. */
function parseWeights(bytes: Uint8Array): { format: 'safetensors' | 'pytorch'; tensors: TensorMap; graph?: string } {
  if (isZip(bytes)) return { format: 'pytorch', tensors: parseTorchZip(bytes) };
  if (isLegacyTorch(bytes)) throw new ModelFormatError(LEGACY_TORCH_MESSAGE);
  const file = parseSafetensors(bytes);
  return { format: 'safetensors', tensors: file.tensors, graph: file.metadata[GRAPH_METADATA_KEY] };
}
