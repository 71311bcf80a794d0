import { detectSimd } from './wasm/module.js';

/** Where a model runs. 'cpu' is the float64 reference (the tests' oracle), not a fast path. */
export type BackendName = 'webgpu' | 'wasm' | 'cpu';
export type BackendOption = BackendName | 'auto';

export const BACKEND_OPTIONS: readonly BackendOption[] = ['auto', 'webgpu', 'wasm', 'cpu'];

/**
 * Software adapters run WebGPU on the CPU (SwiftShader in Chrome, Mesa's llvmpipe/lavapipe,
 * Windows' WARP "Microsoft Basic Render Driver"); there the WebAssembly backend is an order of
 * magnitude faster on the same cores.
 */
const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|basic render/i;

interface AdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

/** True for a fallback or software adapter: WebGPU there is no faster than the CPU it runs on. */
export function isSoftwareAdapter(adapter: AdapterLike): boolean {
  const info = adapter.info ?? {};
  if (info.isFallbackAdapter || adapter.isFallbackAdapter) return true;
  return SOFTWARE_ADAPTER.test([info.vendor, info.architecture, info.device, info.description].join(' '));
}

/**
 * backend: 'auto' (the default): WebGPU when a GPU or device is passed in, or when the
 * environment offers a hardware adapter; otherwise WebAssembly SIMD; the float64 reference only
 * where the engine has no WebAssembly SIMD. Asks for an adapter once, while the file streams.
 */
export async function chooseBackend(options: { backend?: BackendOption; gpu?: GPU; device?: GPUDevice }): Promise<BackendName> {
  const backend = options.backend ?? 'auto';
  if (backend !== 'auto') return backend;
  if (options.gpu || options.device) return 'webgpu';
  const cpu: BackendName = detectSimd() ? 'wasm' : 'cpu';
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) return cpu;
  try {
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    return adapter && !isSoftwareAdapter(adapter) ? 'webgpu' : cpu;
  } catch {
    return cpu;
  }
}
