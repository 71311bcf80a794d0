/**
 * resgpu: run PyTorch-trained residual MLPs on WebGPU.
 *
 *   const model = await loadModel('model.safetensors');
 *   const y = await model.run(x);
 *
 * This module composes the parts and nothing else: a loader (src/loader) reads the file into
 * the backend-neutral model (src/graph), and a backend (src/runtime/<backend>) runs it.
 */
import { streamModelSpec, type ModelSource } from './loader/index.js';
import type { Model } from './model.js';
import { chosenBackend, type LoadOptions } from './options.js';
import { ReferenceModel } from './runtime/reference/model.js';
import { GpuModel } from './runtime/webgpu/model.js';

/**
 * Loads a model and puts it on a backend: a `.pt`/`.pth` state_dict, a `.safetensors` file with
 * its graph, or an ONNX export; from a URL (in Node also a path or `file:` URL), a Response, a
 * Blob, bytes, or `{ weights, graph }` / `{ model, externalData }`. The file is read as it
 * arrives, and on WebGPU the layers are folded and uploaded as their tensors come in.
 * Rejects with a ResgpuError subclass (see errors.ts) and leaves nothing allocated when it fails.
 */
export async function loadModel(source: ModelSource, options: LoadOptions = {}): Promise<Model> {
  const backend = chosenBackend(options);
  // Reading starts now; on WebGPU, device set-up and layer uploads overlap the download.
  const model = streamModelSpec(source, options.onProgress);
  return backend === 'cpu' ? new ReferenceModel(await model.complete()) : GpuModel.create(model, options);
}

export type { LoadOptions, BackendOption, BackendName } from './options.js';
export type { KernelVariant } from './kernels/variant.js';
export type { TuningCache } from './runtime/webgpu/tuning-cache.js';
export type { Model, ModelDescription, DispatchDescription, LayerDescription, KernelName } from './model.js';
export type { ModelSource } from './loader/index.js';
export type { ByteSource } from './loader/source.js';
export type { LoadProgress, LoadStage, ProgressCallback } from './graph/stream.js';
export type { GraphManifest, ManifestLayer, ManifestLinear, ManifestResidualBlock } from './loader/manifest.js';
export { GRAPH_METADATA_KEY } from './loader/manifest.js';
export * from './errors.js';
export { encodeSafetensors, type TensorToWrite } from './loader/safetensors-writer.js';
