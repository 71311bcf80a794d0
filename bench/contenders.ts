import * as ort from 'onnxruntime-web/webgpu';
import { loadModel, type KernelVariant } from '../src/index.js';
import { tensorflow } from './tfjs.js';

/**
 * Every engine the benchmark measures, behind one small interface, all on the same weights:
 * the preset's .pt (resgpu, CPU reference), its ONNX export (onnxruntime-web) and its
 * BatchNorm-folded layers (TensorFlow.js, bench/tfjs.ts), all written by bench/make_model.py.
 * Image models take rows of C·H·W floats in PyTorch's NCHW order, like resgpu.
 */
export interface Runner {
  run(x: Float32Array, batch: number): Promise<Float32Array>;
  /** GPU time of the last run's kernels (timestamp queries), where the contender can tell. */
  gpuMs?(): number | null;
  dispose(): Promise<void> | void;
  /** resgpu: where the model runs (what 'auto' chose). */
  backend?: string;
}

/** Where one model's files are; a model dropped on the page has only the file resgpu reads. */
export interface ModelFiles {
  name: string;
  /** A file resgpu reads (.pt, .safetensors, .onnx). */
  resgpu: string;
  onnx?: string;
  /** Stem of the .folded.json / .folded.bin pair. */
  folded?: string;
  /** 2 × multiply-adds of every Linear (and Conv2d) per row, where make_model.py counted them. */
  flopsPerRow?: number;
  /** An image model's [C, H, W] (its rows are NCHW); absent for feature rows. */
  inputShape?: number[];
}

/**
 * A preset's files, from the meta.json make_model.py writes beside them: the seed's presets are
 * loaded by resgpu from their .pt, the other families from their .safetensors (a bare state_dict
 * of those is refused by design); the seed's presets and the image presets have TensorFlow.js's
 * folded layers. An image preset's meta gives its input shape, which resgpu needs for a bare .pt.
 */
export async function presetFiles(name: string): Promise<ModelFiles> {
  const response = await fetch(`/models/${name}.meta.json`);
  if (!response.ok) throw new Error(`no preset ${name} (bench/models/${name}.meta.json: ${response.status})`);
  const meta = (await response.json()) as { resgpu: string; onnx: string; folded: boolean; flops_per_row: number; input_shape?: number[] };
  return {
    name, resgpu: `/models/${meta.resgpu}`, onnx: `/models/${meta.onnx}`, flopsPerRow: meta.flops_per_row,
    ...(meta.folded ? { folded: `/models/${name}` } : {}),
    ...(meta.input_shape ? { inputShape: meta.input_shape } : {}),
  };
}

export interface Contender {
  name: string;
  load(model: ModelFiles): Promise<Runner>;
  /** Run only when named in the contenders filter (resgpu's forced kernels: slow on software adapters). */
  optional?: boolean;
}

function need(file: string | undefined, what: string): string {
  if (!file) throw new Error(`no ${what} for this model`);
  return file;
}

// onnxruntime-web loads its WASM from here (bench/server.mjs serves the package's dist/).
ort.env.wasm.wasmPaths = '/ort/';
const ortThreads = Number(new URLSearchParams(globalThis.location?.search ?? '').get('ortThreads') ?? 0);
if (ortThreads > 0) ort.env.wasm.numThreads = ortThreads;
// onnxruntime-web's WASM backend runs on its default threads, ⌈cores / 2⌉ at most 4 (1 on the
// 2-core development machine), or on the page's `?ortThreads=N` (run.mjs --ort-threads N): it
// fixes them at its first session. resgpu-wasm runs once on 1 thread and once on its default
// (the cores, at most 4).

const RESGPU_NAMES = { webgpu: 'resgpu (WebGPU)', cpu: 'CPU reference', wasm: 'resgpu-wasm', auto: 'resgpu-auto' } as const;

const resgpu = (backend: 'webgpu' | 'cpu' | 'wasm' | 'auto', threads?: number): Contender => ({
  name: `${RESGPU_NAMES[backend]}${threads ? ` (${threads} thread${threads > 1 ? 's' : ''})` : ''}`,
  async load(model) {
    const m = await loadModel(model.resgpu, { backend, profile: true, inputShape: model.inputShape, ...(threads ? { threads } : {}) });
    return { run: (x) => m.run(x), gpuMs: () => m.lastRunGpuMs ?? null, dispose: () => m.dispose(), backend: m.backend };
  },
});

/** resgpu on WebGPU with one kernel forced, or with f16 weights: the kernel family side by side. */
const resgpuKernel = (kernel: KernelVariant | 'auto', precision: 'f32' | 'f16'): Contender => ({
  name: `resgpu (WebGPU, ${kernel}${precision === 'f16' ? ', f16' : ''})`,
  optional: true,
  async load(model) {
    const m = await loadModel(model.resgpu, { backend: 'webgpu', profile: true, precision, inputShape: model.inputShape, ...(kernel === 'auto' ? {} : { kernel }) });
    return { run: (x) => m.run(x), gpuMs: () => m.lastRunGpuMs ?? null, dispose: () => m.dispose(), backend: m.backend };
  },
});

const onnxruntime = (provider: 'webgpu' | 'wasm'): Contender => ({
  name: `onnxruntime-web (${provider === 'webgpu' ? 'WebGPU' : 'WASM'})`,
  async load(model) {
    const session = await ort.InferenceSession.create(need(model.onnx, 'ONNX export'), { executionProviders: [provider] });
    return {
      async run(x, batch) {
        const input = new ort.Tensor('float32', x, [batch, ...(model.inputShape ?? [x.length / batch])]);
        const out = await session.run({ [session.inputNames[0]!]: input });
        return (await out[session.outputNames[0]!]!.getData()) as Float32Array;
      },
      dispose: () => session.release(),
    };
  },
});

export const CONTENDERS: Contender[] = [
  resgpu('webgpu'), resgpu('cpu'), resgpu('wasm', 1), resgpu('wasm'), resgpu('auto'), onnxruntime('webgpu'), onnxruntime('wasm'), tensorflow,
  // Named to run, e.g. --contenders "WebGPU,gemv": every kernel forced, and the automatic choice with f16 weights.
  ...(['gemm', 'gemv', 'gemm_tiled'] as const).flatMap((k) => [resgpuKernel(k, 'f32'), resgpuKernel(k, 'f16')]),
  resgpuKernel('auto', 'f16'),
];
