import { nodeGpu } from '../node.js';
import { CliError, EXIT } from './exit-codes.js';

/**
 * The CLI's WebGPU in Node: Dawn through resgpu/node (which points Vulkan at SwiftShader when
 * no GPU driver is configured), installed as `navigator.gpu` so that the engine's own backend
 * choice (its default, or 'auto') sees the adapter exactly as it would in a browser. Returns
 * false when the 'webgpu' package is not installed; with `required` (an explicit --backend
 * webgpu) that is an error instead.
 */
export async function installNodeGpu(required: boolean): Promise<boolean> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return true;
  let gpu: GPU;
  try {
    gpu = await nodeGpu();
  } catch {
    if (!required) return false;
    throw new CliError(EXIT.environment, "WebGPU in Node needs the 'webgpu' package: npm install webgpu. Or choose --backend cpu.");
  }
  if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  return true;
}
