import { nodeGpu, SWIFTSHADER_ICD } from '../../src/node.js';

/**
 * A real WebGPU device in Node: Dawn (the 'webgpu' package) on SwiftShader's Vulkan driver,
 * which Debian's chromium package ships. There is no fallback and no skip: a machine without
 * an adapter fails the run (see ../shared/WEBGPU-ON-CPU.md; tools/setup.sh installs both).
 */
export { SWIFTSHADER_ICD, nodeGpu } from '../../src/node.js';

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
