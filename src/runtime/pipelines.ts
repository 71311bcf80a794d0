import { ShaderStage } from './gpu-flags.js';
import type { KernelDef } from '../kernels/kernel.js';
import { KERNELS, type KernelName } from '../kernels/registry.js';

export interface CompiledKernel {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/** The explicit bind group layout a kernel declares (no layout: 'auto', so bind groups outlive pipelines). */
function bindGroupLayout(device: GPUDevice, kernel: KernelDef): GPUBindGroupLayout {
  return device.createBindGroupLayout({
    label: `${kernel.name} bindings`,
    entries: kernel.bindings.map((b) => ({
      binding: b.binding,
      visibility: ShaderStage.COMPUTE,
      buffer: { type: b.type },
    })),
  });
}

/**
 * Compiles the named kernels, asynchronously and in parallel. One shader module and one bind
 * group layout per shader file, one pipeline per kernel name. `debug` prints each shader once.
 */
export async function compileKernels(
  device: GPUDevice,
  names: Iterable<KernelName>,
  debug = false,
): Promise<Map<KernelName, CompiledKernel>> {
  const modules = new Map<KernelDef, { module: GPUShaderModule; layout: GPUBindGroupLayout; pipelineLayout: GPUPipelineLayout }>();
  const shared = (kernel: KernelDef) => {
    let m = modules.get(kernel);
    if (!m) {
      if (debug) console.log(`[resgpu] ${kernel.file}:\n${kernel.shader}`);
      const layout = bindGroupLayout(device, kernel);
      m = {
        module: device.createShaderModule({ label: kernel.file, code: kernel.shader }),
        layout,
        pipelineLayout: device.createPipelineLayout({ label: kernel.name, bindGroupLayouts: [layout] }),
      };
      modules.set(kernel, m);
    }
    return m;
  };
  const entries = await Promise.all(
    [...new Set(names)].map(async (name) => {
      const { kernel, constants } = KERNELS[name];
      const { module, layout, pipelineLayout } = shared(kernel);
      if (debug) console.log(`[resgpu] pipeline ${name}: ${JSON.stringify(constants)}`);
      const pipeline = await device.createComputePipelineAsync({
        label: name,
        layout: pipelineLayout,
        compute: { module, entryPoint: kernel.entryPoint, constants },
      });
      return [name, { pipeline, layout }] as const;
    }),
  );
  return new Map(entries);
}
