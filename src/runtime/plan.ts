import { BufferUsage, MapMode } from './gpu-flags.js';
import { GpuLimitError } from '../errors.js';
import { GEMM_TILE_ROWS, GEMM_WORKGROUP, gemmUniforms, gemmWorkgroups, type GemmShape } from '../kernels/gemm.js';
import { UNIFORM_STRIDE } from '../kernels/kernel.js';
import { padActivations, padFeatures, padRows, unpadActivations } from '../kernels/layout.js';
import type { KernelName } from '../kernels/registry.js';
import type { DispatchDescription } from '../model.js';
import { assignBuffers } from './buffer-assignment.js';
import type { GemmStepShape } from './lower.js';
import type { CompiledKernel } from './pipelines.js';
import type { UploadedWeights } from './weights.js';

/** What every batch plan of one model shares. */
export interface PlanContext {
  device: GPUDevice;
  steps: readonly GemmStepShape[];
  kernels: ReadonlyMap<KernelName, CompiledKernel>;
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
  workgroups: [number, number];
}

/**
 * Everything one inference at one batch size needs, made once: activation buffers assigned
 * with reuse, one uniform buffer holding every dispatch's shape, every bind group, and a
 * read-back buffer. run() is then a write, one encoder, one submit and one map.
 * A plan is used by one run at a time (GpuModel serializes runs).
 */
export class BatchPlan {
  /** GPU time of the last run's kernels, in milliseconds; null without profiling. */
  lastGpuMs: number | null = null;

  private constructor(
    private readonly ctx: PlanContext,
    readonly batch: number,
    private readonly owned: GPUBuffer[],
    private readonly input: GPUBuffer,
    private readonly output: GPUBuffer,
    private readonly readback: GPUBuffer,
    private readonly dispatches: Dispatch[],
    private readonly timer: PassTimer | null,
  ) {}

  static async create(ctx: PlanContext, batch: number): Promise<BatchPlan> {
    const { device, steps } = ctx;
    const layout = planLayout(ctx, batch);
    const { bufferOf } = layout;
    const owned: GPUBuffer[] = [];
    const make = (d: GPUBufferDescriptor) => {
      const b = device.createBuffer(d);
      owned.push(b);
      return b;
    };
    device.pushErrorScope('out-of-memory');
    try {
      const activations = layout.bufferSizes.map((size, i) =>
        make({ label: `resgpu activations ${i} (batch ${batch})`, size, usage: BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC }),
      );
      const readback = make({
        label: `resgpu read-back (batch ${batch})`,
        size: batch * padFeatures(ctx.outputSize) * 4,
        usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
      });
      const uniforms = make({
        label: `resgpu shapes (batch ${batch})`,
        size: steps.length * UNIFORM_STRIDE,
        usage: BufferUsage.UNIFORM,
        mappedAtCreation: true,
      });
      const mapped = uniforms.getMappedRange();
      const dispatches = steps.map((step, i): Dispatch => {
        const shape = layout.shapes[i]!;
        new Uint32Array(mapped, i * UNIFORM_STRIDE, 4).set(gemmUniforms(shape));
        const { pipeline, layout: bindGroupLayout } = ctx.kernels.get(step.kernel)!;
        const { weight, bias } = ctx.weights.ranges[i]!;
        const a = activations[bufferOf[step.a]!]!;
        // Plain linears have no shortcut operand; `a` is bound in its place (read-only twice is allowed).
        const x = step.x === null ? a : activations[bufferOf[step.x]!]!;
        const bindGroup = device.createBindGroup({
          label: step.label,
          layout: bindGroupLayout,
          entries: [
            { binding: 0, resource: { buffer: uniforms, offset: i * UNIFORM_STRIDE, size: 16 } },
            { binding: 1, resource: { buffer: a } },
            { binding: 2, resource: { buffer: x } },
            { binding: 3, resource: { buffer: ctx.weights.buffer, ...weight } },
            { binding: 4, resource: { buffer: ctx.weights.buffer, ...bias } },
            { binding: 5, resource: { buffer: activations[bufferOf[i + 1]!]! } },
          ],
        });
        return { pipeline, bindGroup, workgroups: gemmWorkgroups(shape) };
      });
      uniforms.unmap();
      const oom = await device.popErrorScope();
      if (oom) throw new GpuLimitError(`Out of GPU memory for batch ${batch}: ${oom.message}`);
      const timer = ctx.profile
        ? {
            querySet: device.createQuerySet({ type: 'timestamp', count: 2 }),
            resolve: make({ label: 'resgpu timestamps', size: 16, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC }),
            readback: make({ label: 'resgpu timestamps read-back', size: 16, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST }),
          }
        : null;
      const input = activations[bufferOf[0]!]!;
      const output = activations[bufferOf[steps.length]!]!;
      return new BatchPlan(ctx, batch, owned, input, output, readback, dispatches, timer);
    } catch (e) {
      owned.forEach((b) => b.destroy());
      throw e;
    }
  }

  /** One inference: write the input, encode every dispatch, one submit, read the output back. */
  async run(x: Float32Array<ArrayBuffer>): Promise<Float32Array> {
    const { device, inputSize, outputSize } = this.ctx;
    device.queue.writeBuffer(this.input, 0, padActivations(x, this.batch, inputSize));
    const encoder = device.createCommandEncoder({ label: `resgpu run (batch ${this.batch})` });
    const t = this.timer;
    const pass = encoder.beginComputePass(
      t ? { timestampWrites: { querySet: t.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {},
    );
    for (const d of this.dispatches) {
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1]);
    }
    pass.end();
    encoder.copyBufferToBuffer(this.output, 0, this.readback, 0, this.readback.size);
    if (t) {
      encoder.resolveQuerySet(t.querySet, 0, 2, t.resolve, 0);
      encoder.copyBufferToBuffer(t.resolve, 0, t.readback, 0, 16);
    }
    device.queue.submit([encoder.finish()]);
    if (t) {
      await t.readback.mapAsync(MapMode.READ);
      const [begin, end] = new BigUint64Array(t.readback.getMappedRange());
      this.lastGpuMs = Number(end! - begin!) / 1e6; // nanoseconds
      t.readback.unmap();
    }
    await this.readback.mapAsync(MapMode.READ);
    try {
      return unpadActivations(new Float32Array(this.readback.getMappedRange()), this.batch, outputSize);
    } finally {
      this.readback.unmap();
    }
  }

  destroy(): void {
    this.owned.forEach((b) => b.destroy());
    this.timer?.querySet.destroy();
  }
}

export interface PlanLayout {
  /** Padded activation widths, by value (0 = input, i + 1 = output of step i). */
  widths: number[];
  bufferOf: number[];
  bufferSizes: number[];
  shapes: GemmShape[];
  dispatches: DispatchDescription[];
}

/** Sizes, buffer assignment and dispatch shapes of a batch size: everything but GPU objects. */
export function planLayout(ctx: Pick<PlanContext, 'steps' | 'inputSize'> & { device: Pick<GPUDevice, 'limits'> }, batch: number): PlanLayout {
  const { steps } = ctx;
  const rows = padRows(batch);
  const widths = [ctx.inputSize, ...steps.map((s) => s.outFeatures)].map(padFeatures);
  checkLimits(ctx.device, batch, widths);
  const { bufferOf, bufferCount } = assignBuffers(steps.map((s) => (s.x === null ? [s.a] : [s.a, s.x])));
  const bufferSizes = new Array<number>(bufferCount).fill(0);
  widths.forEach((w, v) => (bufferSizes[bufferOf[v]!] = Math.max(bufferSizes[bufferOf[v]!]!, rows * w * 4)));
  const shapes = steps.map(
    (s): GemmShape => ({
      rows,
      cols: padFeatures(s.outFeatures),
      inner: widths[s.a]!,
      shortcutInner: s.kernel === 'residual_projection' ? widths[s.x!]! : 0,
    }),
  );
  const dispatches = steps.map((s, i): DispatchDescription => {
    const [x, y] = gemmWorkgroups(shapes[i]!);
    return {
      kernel: s.kernel,
      layer: s.label,
      batch,
      inFeatures: s.inFeatures,
      outFeatures: s.outFeatures,
      shortcutFeatures: s.shortcutFeatures,
      workgroups: [x, y, 1],
    };
  });
  return { widths, bufferOf, bufferSizes, shapes, dispatches };
}

function checkLimits(device: Pick<GPUDevice, 'limits'>, batch: number, widths: number[]) {
  const widest = Math.max(...widths);
  const maxBytes = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  const byBytes = Math.floor(maxBytes / (widest * 4) / GEMM_TILE_ROWS) * GEMM_TILE_ROWS;
  const byWorkgroups = device.limits.maxComputeWorkgroupsPerDimension * GEMM_TILE_ROWS * GEMM_WORKGROUP[1];
  const maxBatch = Math.min(byBytes, byWorkgroups);
  if (batch > maxBatch) {
    throw new GpuLimitError(
      `Batch ${batch} is too large for this device: it allows at most ${maxBatch} rows for this model ` +
        `(maxStorageBufferBindingSize ${maxBytes} bytes for a ${widest}-float-wide activation, ` +
        `maxComputeWorkgroupsPerDimension ${device.limits.maxComputeWorkgroupsPerDimension}). Split the input into smaller batches.`,
    );
  }
}
