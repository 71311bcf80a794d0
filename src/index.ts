/**
 * resgpu: run PyTorch-trained residual MLPs on WebGPU.
 *
 *   const model = await loadModel('model.safetensors');
 *   const y = await model.run(x);
 */
import { streamModelSpec, type ModelSource } from './loader/index.js';
import type { ProgressCallback } from './loader/source.js';
import type { Model } from './model.js';
import { CpuModel } from './runtime/cpu-model.js';
import { GpuModel } from './runtime/gpu-model.js';
import { BACKEND_OPTIONS, chooseBackend, type BackendOption } from './runtime/auto.js';
import { WasmModel } from './runtime/wasm/wasm-model.js';
import { ModelFormatError } from './errors.js';

export interface LoadOptions {
  /** A GPU object to use instead of navigator.gpu (in Node: create([]) from the 'webgpu' package). */
  gpu?: GPU;
  /** An existing device to share; dispose() then leaves it alive. */
  device?: GPUDevice;
  /**
   * 'auto' (default): WebGPU on a hardware adapter or a given gpu/device, else 'wasm'.
   * 'wasm': WebAssembly SIMD on the CPU. 'cpu': the float64 CPU reference.
   */
  backend?: BackendOption;
  /** wasm: threads to compute on (default: the cores, at most 4, where memory can be shared). */
  threads?: number;
  /** Called as loading moves through download, parse, fold, upload and compile. */
  onProgress?: ProgressCallback;
  /** WebGPU: plans for distinct batch sizes kept at once (default 4). */
  maxCachedPlans?: number;
  /** WebGPU: print every shader and pipeline as it is compiled. */
  debug?: boolean;
  /** WebGPU: time each run's kernels with timestamp queries, where the adapter offers them (model.lastRunGpuMs). */
  profile?: boolean;
}

export async function loadModel(source: ModelSource, options: LoadOptions = {}): Promise<Model> {
  if (!BACKEND_OPTIONS.includes(options.backend ?? 'auto')) {
    throw new ModelFormatError(`Unknown backend ${JSON.stringify(options.backend)}: use ${BACKEND_OPTIONS.map((b) => `'${b}'`).join(', ')}.`);
  }
  // Reading starts now; choosing the backend, device set-up and layer packing overlap the download.
  const model = streamModelSpec(source, options.onProgress);
  const backend = await chooseBackend(options);
  if (backend === 'cpu') return new CpuModel(await model.complete());
  return backend === 'wasm' ? WasmModel.create(model, options) : GpuModel.create(model, options);
}

export type { Model, ModelDescription, DispatchDescription, LayerDescription } from './model.js';
export type { ModelSource } from './loader/index.js';
export type { ByteSource, LoadProgress, LoadStage, ProgressCallback } from './loader/source.js';
export type { GraphManifest, ManifestLayer, ManifestLinear, ManifestResidualBlock } from './loader/manifest.js';
export { GRAPH_METADATA_KEY } from './loader/manifest.js';
export type { KernelName } from './kernels/registry.js';
export * from './errors.js';
export { encodeSafetensors, type TensorToWrite } from './loader/safetensors-writer.js';
