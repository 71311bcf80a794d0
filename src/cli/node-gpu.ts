import { existsSync } from 'node:fs';
import { CliError, EXIT } from './exit-codes.js';

/** Debian's chromium package ships SwiftShader, Vulkan on the CPU (see the README). */
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * The one place the CLI acquires WebGPU in Node: Dawn, from the optional 'webgpu' package,
 * installed as `navigator.gpu` so that the engine's own backend choice (its default, or
 * 'auto') sees the adapter exactly as it would in a browser. Without a GPU driver configured,
 * Vulkan is pointed at SwiftShader when it is installed. Returns false when 'webgpu' is not
 * installed; with `required` (an explicit --backend webgpu) that is an error instead.
 */
export async function installNodeGpu(required: boolean): Promise<boolean> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return true;
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  let create: (flags: string[]) => GPU;
  try {
    ({ create } = (await import('webgpu')) as unknown as { create: (flags: string[]) => GPU });
  } catch {
    if (!required) return false;
    throw new CliError(
      EXIT.environment,
      "WebGPU in Node needs the 'webgpu' package: npm install webgpu. Or choose --backend cpu.",
    );
  }
  const gpu = create([]);
  if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  return true;
}
