/// <reference types="node" />
/**
 * resgpu/node: WebGPU in Node through Dawn (the 'webgpu' npm package, installed by the user).
 * Node only: the browser bundle never imports this module.
 *
 *   import { loadModel } from 'resgpu';
 *   import { nodeGpu } from 'resgpu/node';
 *   const model = await loadModel(bytes, { gpu: await nodeGpu() });
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import './webgpu-globals.js';
import { WebGPUUnavailableError } from './errors.js';
import { jsonTuningCache, type TuningCache } from './runtime/webgpu/tuning-cache.js';

/** SwiftShader's Vulkan driver as Debian's chromium package installs it: WebGPU on the CPU. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * Points the Vulkan loader at SwiftShader when no driver is configured (neither
 * VK_ICD_FILENAMES nor VK_DRIVER_FILES is set) and SwiftShader is installed. Must run before
 * Dawn starts. Returns whether it did. A configured driver (a real GPU's) always wins.
 */
export function useSwiftShaderUnlessConfigured(): boolean {
  if (process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES || !existsSync(SWIFTSHADER_ICD)) return false;
  process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  return true;
}

let gpu: Promise<GPU> | undefined;

/** The process's GPU object from the 'webgpu' package (one per process: Dawn keeps one instance). */
export function nodeGpu(): Promise<GPU> {
  gpu ??= (async () => {
    useSwiftShaderUnlessConfigured();
    let create: (options: string[]) => GPU;
    try {
      ({ create } = (await import(/* @vite-ignore */ 'webgpu')) as { create: (options: string[]) => GPU });
    } catch (e) {
      throw new WebGPUUnavailableError(`the 'webgpu' package could not be loaded (${(e as Error).message}); run npm install webgpu`);
    }
    return create([]);
  })();
  return gpu;
}

/**
 * A kernel-measurement cache in a JSON file, so that a process after the first skips the
 * measurements: pass it as loadModel's `tuningCache`. Default path:
 * $RESGPU_CACHE_DIR/kernels.json, else $XDG_CACHE_HOME/resgpu/kernels.json, else
 * ~/.cache/resgpu/kernels.json.
 */
export function fileTuningCache(path = defaultCachePath()): TuningCache {
  return jsonTuningCache(
    () => (existsSync(path) ? readFileSync(path, 'utf8') : null),
    (text) => {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
    },
  );
}

function defaultCachePath(): string {
  const dir = process.env.RESGPU_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'resgpu');
  return join(dir, 'kernels.json');
}
