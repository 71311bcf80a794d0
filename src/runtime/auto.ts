import type { BackendName } from '../options.js';
import { detectSimd } from './wasm/simd.js';
import { isSoftwareAdapter } from './webgpu/device.js';

/**
 * backend: 'auto' (the default): WebGPU when a GPU or device is passed in, or when the
 * environment offers a hardware adapter; otherwise WebAssembly SIMD, since a software adapter
 * (SwiftShader and the like) runs WebGPU on the very cores the WebAssembly backend uses, an order
 * of magnitude slower; the float64 reference only where the engine has no WebAssembly SIMD.
 * Asks for an adapter once, while the file streams. The file itself is never read twice.
 */
export async function chooseBackend(options: { gpu?: GPU; device?: GPUDevice }): Promise<BackendName> {
  if (options.gpu || options.device) return 'webgpu';
  const cpu: BackendName = detectSimd() ? 'wasm' : 'cpu';
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) return cpu;
  try {
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    return adapter && !isSoftwareAdapter(adapter.info) ? 'webgpu' : cpu;
  } catch {
    return cpu;
  }
}
