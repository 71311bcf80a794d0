/**
 * resgpu: run PyTorch-trained residual MLPs on WebGPU, or on WebAssembly SIMD where there is no GPU.
 *
 *   const model = await loadModel('model.safetensors');
 *   const y = await model.run(x);
 *
 * This module composes the parts and nothing else: a loader (src/loader) reads the file into
 * the backend-neutral model (src/graph), and a backend (src/runtime/<backend>) runs it.
 */
import { streamModelSpec, type ModelSource } from './loader/index.js';
import type { Model } from './model.js';
import { requestedBackend, type LoadOptions } from './options.js';
import { chooseBackend } from './runtime/auto.js';
import { ReferenceModel } from './runtime/reference/model.js';
import { WasmModel } from './runtime/wasm/wasm-model.js';
import { GpuModel } from './runtime/webgpu/model.js';

/** Loads a model file onto a backend (see LoadOptions, src/options.ts). The file is read once, streamed. */
export async function loadModel(source: ModelSource, options: LoadOptions = {}): Promise<Model> {
  const requested = requestedBackend(options);
  // Reading starts now; choosing the backend, device set-up and layer uploads overlap the download.
  const model = streamModelSpec(source, options.onProgress);
  let backend;
  try {
    backend = requested === 'auto' ? await chooseBackend(options) : requested;
  } catch (e) {
    model.cancel();
    throw e;
  }
  if (backend === 'cpu') return new ReferenceModel(await model.complete());
  return backend === 'wasm' ? WasmModel.create(model, options) : GpuModel.create(model, options);
}

export type { LoadOptions, BackendOption, BackendName } from './options.js';
export type { KernelVariant } from './kernels/registry.js';
export type { TuningCache } from './runtime/webgpu/tuning-cache.js';
export type { Model, ModelDescription, DispatchDescription, LayerDescription, KernelName } from './model.js';
export type { ModelSource } from './loader/index.js';
export type { ByteSource } from './loader/source.js';
export type { LoadProgress, LoadStage, ProgressCallback } from './graph/stream.js';
export type { GraphManifest, ManifestLayer, ManifestLinear, ManifestResidualBlock } from './loader/manifest.js';
export { GRAPH_METADATA_KEY } from './loader/manifest.js';
export * from './errors.js';
export { encodeSafetensors, type TensorToWrite } from './loader/safetensors-writer.js';
