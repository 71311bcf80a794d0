import { existsSync } from 'node:fs';

/**
 * A real WebGPU device in Node: Dawn (the 'webgpu' package) on SwiftShader's Vulkan driver,
 * which Debian's chromium package ships. There is no fallback and no skip: a machine without
 * an adapter fails the run (see ../shared/WEBGPU-ON-CPU.md; tools/setup.sh installs both).
 */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

let gpu: Promise<GPU> | undefined;

export function nodeGpu(): Promise<GPU> {
  gpu ??= (async () => {
    // A real GPU's driver wins when present; otherwise point Vulkan at SwiftShader.
    if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(SWIFTSHADER_ICD)) {
      process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    }
    const { create } = await import('webgpu');
    return create([]) as GPU;
  })();
  return gpu;
}

export async function nodeDevice(): Promise<GPUDevice> {
  const adapter = await (await nodeGpu()).requestAdapter();
  if (!adapter) {
    throw new Error(
      `No WebGPU adapter in Node. Install Debian's chromium (SwiftShader) and libvulkan1, ` +
        `or set VK_ICD_FILENAMES (tried ${SWIFTSHADER_ICD}).`,
    );
  }
  return adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    },
  });
}
