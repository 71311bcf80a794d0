import { loadModel, ResgpuError, type LoadOptions, type Model } from '../index.js';
import { CliError, EXIT } from './exit-codes.js';
import { installNodeGpu } from './node-gpu.js';

/** Backends that never touch WebGPU: no need to start Dawn for them. */
const CPU_ONLY = new Set(['cpu', 'wasm', 'reference']);

/**
 * Loads MODEL as the CLI's commands name it, a path or a URL, passed to the engine as given:
 * in Node it streams a path or file: URL from disk and fetches an http(s) URL. `backend` goes
 * to loadModel unchanged; without it, the engine's default applies.
 */
export async function loadModelArg(model: string, backend: string | undefined, options: LoadOptions = {}): Promise<Model> {
  const gpuInstalled = !backend || !CPU_ONLY.has(backend) ? await installNodeGpu(backend === 'webgpu') : false;
  try {
    // The engine's own type lists today's backends; newer engines take more, so pass it as given.
    return await loadModel(model, { ...options, ...(backend !== undefined && { backend: backend as 'webgpu' }) });
  } catch (e) {
    throw loadFailure(e, model, gpuInstalled);
  }
}

function loadFailure(e: unknown, model: string, gpuInstalled: boolean): Error {
  if (e instanceof ResgpuError && e.code === 'WEBGPU_UNAVAILABLE' && !gpuInstalled) {
    // The engine's advice (pass { gpu }) is for library users; from the command line it is one install.
    return new CliError(EXIT.environment, `Cannot load ${model} on WebGPU: in Node it needs the 'webgpu' package (npm install webgpu), which this command then uses. Or run on the CPU: --backend cpu.`);
  }
  if (e instanceof ResgpuError && /unknown backend/i.test(e.message)) return new CliError(EXIT.usage, `--backend: ${e.message}`);
  if (e instanceof ResgpuError) {
    const code = e.code === 'WEBGPU_UNAVAILABLE' || e.code === 'GPU_LIMIT' || e.code === 'DEVICE_LOST' ? EXIT.environment : EXIT.model;
    const hint = code === EXIT.environment ? ' (or run on the CPU: --backend cpu)' : '';
    return new CliError(code, `Cannot load ${model}: ${e.name}: ${e.message}${hint}`);
  }
  return e as Error;
}
