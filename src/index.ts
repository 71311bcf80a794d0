/**
 * resgpu: run PyTorch-trained residual MLPs on WebGPU, or on WebAssembly SIMD where there is no GPU.
 *
 *   const model = await loadModel('model.safetensors');
 *   const y = await model.run(x);
 *
 * This module composes the parts and nothing else: a loader (src/loader) reads the file into
 * the backend-neutral model (src/graph), and a backend (src/runtime/<backend>) runs it.
 */
import { AbortError, OptionError } from './errors.js';
import type { OpGraph } from './graph/op-graph.js';
import { modelFingerprint } from './graph/fingerprint.js';
import { streamOfGraph, type StreamedModel } from './graph/stream.js';
import { streamModel, type ModelSource } from './loader/index.js';
import { parseGolden } from './loader/golden.js';
import { isByteSource } from './loader/source.js';
import type { DescribeOptions, Model, ModelFingerprint } from './model.js';
import { checkOptions, type LoadOptions } from './options.js';
import { chooseBackend } from './runtime/auto.js';
import { ReferenceModel } from './runtime/reference/model.js';
import { selfTest } from './runtime/self-test.js';
import { RecoveringModel, type Reload } from './runtime/webgpu/recovery.js';

/**
 * Loads a model and puts it on a backend (see LoadOptions, src/options.ts): a `.pt`/`.pth`
 * state_dict, a `.safetensors` file with its graph, or an ONNX export; from a URL (in Node also a
 * path or `file:` URL), a Response, a Blob, bytes, or `{ weights, graph }` / `{ model, externalData }`.
 * The file is read once, as it arrives, and the layers are folded and packed as their tensors
 * come in. Rejects with a ResgpuError subclass (see errors.ts) and leaves nothing allocated when it fails.
 */
export async function loadModel(source: ModelSource, loadOptions: LoadOptions = {}): Promise<Model> {
  const options = checkOptions(loadOptions);
  const requested = options.backend;
  const { signal } = options;
  if (signal?.aborted) throw new AbortError();
  // Reading starts now; choosing the backend, device set-up and layer uploads overlap the download.
  const model = streamModel(source, options.onProgress, signal, options.inputShape);
  // As the stream's nodes arrive, beside the backend's own folding: the fingerprint then costs
  // little time after the last byte (the file's hash), and no copy of the weights.
  const identity = options.fingerprint === false ? null : fingerprintOf(model);
  identity?.catch(() => undefined); // awaited below; a load that fails reports its own error
  const loading = (async () => {
    const backend = requested === 'auto' ? await chooseBackend(options) : requested;
    const loaded = await onBackend(backend, source, model, options);
    const tested = await checked(loaded, await model.shapes, options);
    const done = identity === null ? tested : await identified(tested, identity);
    // WebGPU holds its weights on the device and reads a source again after a device loss (or
    // keeps its own host copy, from complete(), with keepWeightsOnHost): the file can go now.
    if (backend === 'webgpu' && !options.keepWeightsOnHost) model.release();
    return done;
  })();
  loading.catch(() => model.cancel());
  return signal ? abortable(loading, signal) : loading;
}

async function onBackend(backend: 'webgpu' | 'wasm' | 'cpu', source: ModelSource, model: StreamedModel, options: LoadOptions): Promise<Model> {
  if (backend === 'cpu') return new ReferenceModel(await model.complete(), options);
  if (backend === 'webgpu') return onGpu(source, model, options);
  // The WebAssembly backend is a chunk of its own, fetched only by apps that run on the CPU.
  const { WasmModel } = await import('./runtime/wasm/wasm-model.js');
  return WasmModel.create(model, options);
}

/**
 * The self-test: the golden vectors (the option's, else the file's) run once on the model as
 * loaded, unless selfTest: false. Its result is model.selfTest (null when none ran).
 */
async function checked(model: Model, graph: OpGraph, options: LoadOptions): Promise<Model> {
  let golden = graph.golden;
  if (options.goldenVectors) {
    try {
      golden = parseGolden(options.goldenVectors, model, (why) => new OptionError(`goldenVectors: ${why}.`));
    } catch (e) {
      await model.dispose();
      throw e;
    }
  }
  const result = golden && options.selfTest !== false ? await selfTest(model, golden) : null;
  Object.defineProperty(model, 'selfTest', { value: result, enumerable: true });
  return model;
}

/**
 * The model's fingerprint (graph/fingerprint.ts) and the file's, on model.fingerprint and in
 * describe(). The model's is made step by step as the stream's nodes arrive: the fold is the one
 * the backends make, done again in float64; the file's once the whole file is in.
 */
async function fingerprintOf(stream: StreamedModel): Promise<ModelFingerprint> {
  // A graph only the reference runs (no fusion for it) has no fused form to fingerprint: null.
  const model = modelFingerprint(stream).catch(() => null);
  await stream.finished; // a file that fails to load rejects here, as the load does
  const file = await stream.fileDigest();
  return { model: await model, file: file && `sha256:${file}` };
}

async function identified(model: Model, identity: Promise<ModelFingerprint>): Promise<Model> {
  let fingerprint: ModelFingerprint;
  try {
    fingerprint = await identity;
  } catch (e) {
    await model.dispose();
    throw e;
  }
  const describe = model.describe.bind(model);
  Object.defineProperty(model, 'fingerprint', { value: fingerprint, enumerable: true });
  Object.defineProperty(model, 'describe', { value: (options?: DescribeOptions) => ({ ...describe(options), fingerprint }) });
  return model;
}

/**
 * A WebGPU model that can rebuild itself after a device loss: from the source read again when
 * it can be (URLs, Blobs), else from a host copy of the weights when keepWeightsOnHost asks.
 */
async function onGpu(source: ModelSource, stream: StreamedModel, options: LoadOptions): Promise<Model> {
  let kept: OpGraph | null = null;
  const reload: Reload = rereadable(source) ? () => streamModel(source, undefined, undefined, options.inputShape) : options.keepWeightsOnHost ? () => streamOfGraph(kept!) : null;
  const model = await RecoveringModel.create(stream, reload, options);
  if (options.keepWeightsOnHost && !rereadable(source)) kept = await stream.complete();
  return model;
}

/** Sources that can be read again later, without resgpu holding their bytes. */
function rereadable(source: ModelSource): boolean {
  const again = (s: unknown) => typeof s === 'string' || s instanceof URL || (typeof Blob !== 'undefined' && s instanceof Blob);
  if (again(source)) return true;
  if (typeof source !== 'object' || source === null) return false;
  if ('weights' in source) return again(source.weights) && (again(source.graph) || !isByteSource(source.graph));
  if ('model' in source) return again(source.model) && Object.values(source.externalData ?? {}).every(again);
  return false;
}

/**
 * An aborted load rejects with an AbortError once everything it made is freed: the stream
 * stops with the signal, so a load still reading fails at once; a load already past reading
 * (compiling, say) finishes that work and its model is disposed before the rejection.
 */
async function abortable(loading: Promise<Model>, signal: AbortSignal): Promise<Model> {
  try {
    const model = await loading;
    if (!signal.aborted) return model;
    await model.dispose();
  } catch (e) {
    if (!signal.aborted) throw e;
  }
  throw new AbortError();
}

export type { LoadOptions, BackendOption, BackendName } from './options.js';
export type { KernelVariant, TuningCache } from './options.js';
export type { Model, RunOptions, DescribeOptions, ImagePreprocess, ModelFingerprint, SelfTestResult, ModelDescription, DispatchDescription, LayerDescription, KernelName } from './model.js';
export type { ModelSource } from './loader/index.js';
export type { ByteSource } from './loader/source.js';
export type { LoadProgress, LoadStage, ProgressCallback } from './graph/stream.js';
export type { GraphManifest, ManifestLayer, ManifestLinear, ManifestResidualBlock } from './loader/manifest.js';
export type { GraphManifestV2, ManifestNode, ManifestAttr, RowShape } from './loader/manifest-v2.js';
export { GRAPH_METADATA_KEY } from './loader/manifest.js';
export * from './errors.js';
export { encodeSafetensors, type TensorToWrite } from './loader/safetensors-writer.js';
export { imageToInput, IMAGENET_MEAN, IMAGENET_STD, type ImageInput, type ImageToInputOptions, type RgbaPixels } from './image.js';
