import type { AnyStep } from '../../graph/steps.js';
import { pipelineKey, type KernelDef } from '../../kernels/kernel.js';
import { ShaderStage } from './gpu-flags.js';

export interface CompiledKernel {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/**
 * The pipelines of one device, compiled asynchronously and cached by pipeline key (kernel name,
 * precision, override constants): every model on the device shares them, so a second model
 * compiles nothing it does not need anew. One shader module and one explicit bind group layout
 * per kernel (no layout: 'auto', so bind groups outlive pipelines). `debug` prints each shader
 * and pipeline as it is compiled.
 */
export function compiledKernelsFor(device: GPUDevice, debug = false): CompiledKernels {
  let kernels = perDevice.get(device);
  if (!kernels) perDevice.set(device, (kernels = new CompiledKernels(device)));
  if (debug) kernels.debug = true;
  return kernels;
}

const perDevice = new WeakMap<GPUDevice, CompiledKernels>();

export class CompiledKernels {
  private readonly modules = new Map<KernelDef, { module: GPUShaderModule; layout: GPUBindGroupLayout; pipelineLayout: GPUPipelineLayout }>();
  private readonly pipelines = new Map<string, Promise<CompiledKernel>>();
  private readonly ready = new Map<string, CompiledKernel>();

  debug = false;

  constructor(private readonly device: GPUDevice) {}

  /** Starts compiling what these dispatches need; resolves once all of it is compiled. */
  async prepare(dispatches: Iterable<{ kernel: KernelDef; step: AnyStep }>): Promise<void> {
    await Promise.all([...dispatches].map(({ kernel, step }) => this.compile(kernel, step)));
  }

  /** A pipeline prepare() has finished. */
  get(kernel: KernelDef, step: AnyStep): CompiledKernel {
    const compiled = this.ready.get(pipelineKey(kernel, step));
    if (!compiled) throw new Error(`resgpu bug: pipeline ${pipelineKey(kernel, step)} used before it was prepared`);
    return compiled;
  }

  private compile(kernel: KernelDef, step: AnyStep): Promise<CompiledKernel> {
    const key = pipelineKey(kernel, step);
    let pending = this.pipelines.get(key);
    if (!pending) {
      const { module, layout, pipelineLayout } = this.shared(kernel);
      const constants = kernel.constants(step);
      if (this.debug) console.log(`[resgpu] pipeline ${key}`);
      pending = this.device
        .createComputePipelineAsync({ label: key, layout: pipelineLayout, compute: { module, entryPoint: kernel.entryPoint, constants } })
        .then((pipeline) => {
          const compiled = { pipeline, layout };
          this.ready.set(key, compiled);
          return compiled;
        });
      pending.catch(() => this.pipelines.delete(key)); // a failed compile may be retried
      this.pipelines.set(key, pending);
    }
    return pending;
  }

  private shared(kernel: KernelDef) {
    let m = this.modules.get(kernel);
    if (!m) {
      if (this.debug) console.log(`[resgpu] ${kernel.file}:\n${kernel.shader}`);
      const layout = this.device.createBindGroupLayout({
        label: `${kernel.name} bindings`,
        entries: kernel.bindings.map((b) => ({ binding: b.binding, visibility: ShaderStage.COMPUTE, buffer: { type: b.type } })),
      });
      m = {
        module: this.device.createShaderModule({ label: kernel.file, code: kernel.shader }),
        layout,
        pipelineLayout: this.device.createPipelineLayout({ label: kernel.name, bindGroupLayouts: [layout] }),
      };
      this.modules.set(kernel, m);
    }
    return m;
  }
}
