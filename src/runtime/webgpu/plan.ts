import type { BindingSource, KernelDef, RunData } from '../../kernels/kernel.js';
import { UNIFORM_STRIDE } from '../../kernels/kernel.js';
import { openErrorScopes, withErrorScopes } from './error-scopes.js';
import { BufferUsage, MapMode } from './gpu-flags.js';
import { padActivations, unpadActivations, type PlanLayout } from './layout.js';
import type { CompiledKernels } from './pipelines.js';
import type { UploadedWeights } from './weights.js';

/** What every batch plan of one model shares. */
export interface PlanContext {
  device: GPUDevice;
  kernels: CompiledKernels;
  weights: UploadedWeights;
  inputSize: number;
  outputSize: number;
  /** Time the kernels of each run with timestamp queries (the device has 'timestamp-query'). */
  profile: boolean;
}

/** Two timestamps around the compute pass, resolved and read back with the output. */
interface PassTimer {
  querySet: GPUQuerySet;
  resolve: GPUBuffer;
  readback: GPUBuffer;
}

interface Dispatch {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
}

/**
 * Everything one inference at one batch size needs, made once: activation buffers assigned
 * with reuse, one uniform buffer holding every dispatch's uniforms, every bind group (bound by
 * binding name, from each kernel's run data), and a read-back buffer. run() is then a write,
 * one encoder, one submit and one map. A plan is used by one run at a time (the model
 * serializes runs).
 */
export class BatchPlan {
  /** GPU time of the last run's kernels, in milliseconds; null without profiling. */
  lastGpuMs: number | null = null;

  private constructor(
    private readonly ctx: PlanContext,
    private readonly layout: PlanLayout,
    private readonly owned: GPUBuffer[],
    private readonly input: GPUBuffer,
    private readonly output: GPUBuffer,
    private readonly readback: GPUBuffer,
    private readonly dispatches: Dispatch[],
    private readonly timer: PassTimer | null,
  ) {}

  static async create(ctx: PlanContext, layout: PlanLayout): Promise<BatchPlan> {
    const { device } = ctx;
    const { batch, bufferOf } = layout;
    const owned: GPUBuffer[] = [];
    const make = (d: GPUBufferDescriptor) => {
      const b = device.createBuffer(d);
      owned.push(b);
      return b;
    };
    try {
      return await withErrorScopes(device, `making the plan for batch ${batch}`, () => {
        const activations = layout.bufferSizes.map((size, i) =>
          make({ label: `resgpu activations ${i} (batch ${batch})`, size, usage: BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC }),
        );
        const output = activations[bufferOf[bufferOf.length - 1]!]!;
        const outputBytes = batch * layout.strides[layout.strides.length - 1]! * 4;
        const readback = make({ label: `resgpu read-back (batch ${batch})`, size: outputBytes, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
        const uniforms = make({
          label: `resgpu uniforms (batch ${batch})`,
          size: layout.dispatches.length * UNIFORM_STRIDE,
          usage: BufferUsage.UNIFORM,
          mappedAtCreation: true,
        });
        const mapped = uniforms.getMappedRange();
        const dispatches = layout.dispatches.map(({ step, kernel, run }, i): Dispatch => {
          writeUniforms(kernel, run, new Uint32Array(mapped, i * UNIFORM_STRIDE, kernel.uniform.fields.length));
          const { pipeline, layout: bindGroupLayout } = ctx.kernels.get(kernel, step);
          const bindGroup = bindDispatch(device, kernel, step.label, run, bindGroupLayout, {
            uniform: { buffer: uniforms, offset: i * UNIFORM_STRIDE, size: kernel.uniform.fields.length * 4 },
            value: (v) => ({ buffer: activations[bufferOf[v]!]! }),
            weight: { buffer: ctx.weights.buffer, ...ctx.weights.ranges[step.index]!.weight },
            params: { buffer: ctx.weights.buffer, ...ctx.weights.ranges[step.index]!.params },
          });
          return { pipeline, bindGroup, workgroups: run.workgroups };
        });
        uniforms.unmap();
        const timer = ctx.profile
          ? {
              querySet: device.createQuerySet({ type: 'timestamp', count: 2 }),
              resolve: make({ label: 'resgpu timestamps', size: 16, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC }),
              readback: make({ label: 'resgpu timestamps read-back', size: 16, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST }),
            }
          : null;
        const input = activations[bufferOf[0]!]!;
        return new BatchPlan(ctx, layout, owned, input, output, readback, dispatches, timer);
      });
    } catch (e) {
      owned.forEach((b) => b.destroy());
      throw e;
    }
  }

  /** One inference: write the input, encode every dispatch, one submit, read the output back. */
  async run(x: Float32Array<ArrayBuffer>): Promise<Float32Array> {
    const { device, inputSize, outputSize } = this.ctx;
    const { batch, rows, strides } = this.layout;
    const t = this.timer;
    // Inside error scopes: a command the GPU refuses is a typed error, not a silently wrong result.
    // They are checked while the read-back is awaited, not before it (a round trip saved per run).
    const close = openErrorScopes(device, `running a batch of ${batch}`);
    let scopes: Promise<void> | undefined;
    try {
      device.queue.writeBuffer(this.input, 0, padActivations(x, batch, inputSize, rows, strides[0]!));
      const encoder = device.createCommandEncoder({ label: `resgpu run (batch ${batch})` });
      const pass = encoder.beginComputePass(
        t ? { timestampWrites: { querySet: t.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {},
      );
      for (const d of this.dispatches) {
        pass.setPipeline(d.pipeline);
        pass.setBindGroup(0, d.bindGroup);
        pass.dispatchWorkgroups(...d.workgroups);
      }
      pass.end();
      encoder.copyBufferToBuffer(this.output, 0, this.readback, 0, this.readback.size);
      if (t) {
        encoder.resolveQuerySet(t.querySet, 0, 2, t.resolve, 0);
        encoder.copyBufferToBuffer(t.resolve, 0, t.readback, 0, 16);
      }
      device.queue.submit([encoder.finish()]);
    } finally {
      scopes = close();
      scopes.catch(() => undefined); // awaited below, unless encoding threw
    }
    const [checked, mapped] = await Promise.allSettled([scopes, this.readback.mapAsync(MapMode.READ)]);
    if (checked.status === 'rejected') {
      if (mapped.status === 'fulfilled') this.readback.unmap();
      throw checked.reason;
    }
    if (mapped.status === 'rejected') throw mapped.reason;
    try {
      if (t) {
        await t.readback.mapAsync(MapMode.READ);
        const [begin, end] = new BigUint64Array(t.readback.getMappedRange());
        this.lastGpuMs = Number(end! - begin!) / 1e6; // nanoseconds
        t.readback.unmap();
      }
      return unpadActivations(new Float32Array(this.readback.getMappedRange()), batch, outputSize, strides[strides.length - 1]!);
    } finally {
      this.readback.unmap();
    }
  }

  destroy(): void {
    this.owned.forEach((b) => b.destroy());
    this.timer?.querySet.destroy();
  }
}

/** The buffers a dispatch's binding sources stand for. */
export interface BoundBuffers {
  uniform: GPUBufferBinding;
  value(v: number): GPUBufferBinding;
  weight: GPUBufferBinding;
  params: GPUBufferBinding;
}

/** A dispatch's bind group: each declared binding, by name, bound to what the kernel's run data says. */
export function bindDispatch(device: GPUDevice, kernel: KernelDef, label: string, run: RunData, layout: GPUBindGroupLayout, buffers: BoundBuffers): GPUBindGroup {
  const bound = (source: BindingSource): GPUBufferBinding => (source.kind === 'value' ? buffers.value(source.value) : buffers[source.kind]);
  return device.createBindGroup({
    label,
    layout,
    entries: kernel.bindings.map((b) => {
      const source = run.bindings[b.name];
      if (!source) throw new Error(`resgpu bug: kernel ${kernel.name} gave no source for binding "${b.name}"`);
      return { binding: b.binding, resource: bound(source) };
    }),
  });
}

/** The run data's uniform values, in the order of the kernel's uniform struct. */
export function writeUniforms(kernel: KernelDef, run: RunData, out: Uint32Array): void {
  kernel.uniform.fields.forEach((f, i) => {
    const v = run.uniforms[f];
    if (v === undefined) throw new Error(`resgpu bug: kernel ${kernel.name} gave no value for uniform field "${f}"`);
    out[i] = v;
  });
}
