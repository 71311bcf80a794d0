import { DeviceLostError, DisposedError } from '../errors.js';
import type { LayerDescription, Model, ModelDescription } from '../model.js';
import type { StreamedModel } from '../loader/index.js';
import type { ModelSpec } from '../spec.js';
import type { ProgressCallback } from '../loader/source.js';
import { describeLayers } from './describe.js';
import { acquireDevice, type AcquiredDevice, type DeviceOptions } from './device.js';
import { batchOf, checkBatchOption } from './input.js';
import { lowerModel, type GemmStepShape } from './lower.js';
import { compileKernels } from './pipelines.js';
import { BatchPlan, planLayout, type PlanContext } from './plan.js';
import { allocateWeights, scratchLength, uploadStep, type UploadedWeights } from './weights.js';

export interface GpuModelOptions extends DeviceOptions {
  onProgress?: ProgressCallback;
  /** Batch-size plans kept at once; the least recently used is freed beyond this. Default 4. */
  maxCachedPlans?: number;
  /** Print every shader and pipeline as it is compiled. */
  debug?: boolean;
}

/**
 * A model on WebGPU: folded weights in one GPU buffer, pipelines compiled at load, and one
 * plan per batch size (made on first use, cached). Runs are serialized, so overlapping
 * run() calls each get their own, correct result.
 */
export class GpuModel implements Model {
  readonly backend = 'webgpu';
  readonly inputSize: number;
  readonly outputSize: number;
  readonly inputNames?: readonly string[];
  readonly outputNames?: readonly string[];
  readonly features?: readonly string[];
  readonly labels?: readonly string[];
  /** With { profile: true } on an adapter with 'timestamp-query': GPU time of the last run's kernels, ms. */
  lastRunGpuMs: number | null = null;
  private readonly layers: LayerDescription[];
  private readonly plans = new Map<number, Promise<BatchPlan>>();
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;
  private lost: string | null = null;

  private constructor(
    spec: ModelSpec,
    private readonly ctx: PlanContext,
    private readonly acquired: AcquiredDevice,
    private readonly maxCachedPlans: number,
  ) {
    this.inputSize = ctx.inputSize;
    this.outputSize = ctx.outputSize;
    this.inputNames = spec.inputNames;
    this.outputNames = spec.outputNames;
    this.features = spec.features;
    this.labels = spec.labels;
    // The description only: holding the spec would hold the file's bytes.
    this.layers = describeLayers(spec);
    void ctx.device.lost.then((info) => {
      if (!this.disposed) this.lost = info.message || info.reason;
    });
  }

  /**
   * Builds the model while its file is still arriving: the device is acquired during the
   * download; once the header is in, the weight buffer is allocated and the kernels start
   * compiling; each layer is folded and uploaded as soon as its tensors are complete.
   */
  static async create(model: StreamedModel, options: GpuModelOptions = {}): Promise<GpuModel> {
    let acquired: AcquiredDevice;
    try {
      acquired = await acquireDevice(options);
    } catch (e) {
      model.cancel();
      throw e;
    }
    const { device, owned } = acquired;
    let weights: UploadedWeights | undefined;
    try {
      const spec = await model.shapes;
      const shapes = lowerModel(spec).map(({ parts: _, ...shape }): GemmStepShape => shape);
      weights = allocateWeights(device, shapes);
      const compiled = compileKernels(device, shapes.map((s) => s.kernel), options.debug);
      compiled.catch(() => undefined); // awaited below, after the upload
      const scratch = new Float32Array(scratchLength(weights));
      let index = 0;
      for (let i = 0; i < spec.layers.length; i++) {
        const layer = await model.layer(i);
        for (const step of lowerModel({ ...spec, layers: [layer] })) {
          const { weight, bias } = weights.ranges[index]!;
          options.onProgress?.({ stage: 'fold', loadedBytes: weight.offset, totalBytes: weights.bytes });
          uploadStep(device, weights, index++, step, scratch);
          options.onProgress?.({ stage: 'upload', loadedBytes: bias.offset + bias.size, totalBytes: weights.bytes });
        }
      }
      await model.finished;
      options.onProgress?.({ stage: 'compile', loadedBytes: 0, totalBytes: null });
      const kernels = await compiled;
      const profile = Boolean(options.profile) && device.features.has('timestamp-query');
      const ctx: PlanContext = { device, steps: shapes, kernels, weights, inputSize: spec.inputSize, outputSize: spec.outputSize, profile };
      return new GpuModel(spec, ctx, acquired, Math.max(1, options.maxCachedPlans ?? 4));
    } catch (e) {
      model.cancel();
      weights?.buffer.destroy();
      if (owned) device.destroy();
      throw e;
    }
  }

  async run(x: Float32Array): Promise<Float32Array> {
    this.checkUsable();
    const batch = batchOf(x, this.inputSize);
    // Copy now: the caller may reuse its array before this run's turn comes.
    const input = x.slice();
    // Runs queued before dispose() still run: dispose waits for them.
    const result = this.queue.then(async () => {
      if (this.lost !== null) throw new DeviceLostError(this.lost);
      const plan = await this.plan(batch);
      const y = await plan.run(input);
      this.lastRunGpuMs = plan.lastGpuMs;
      return y;
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  describe(options: { batch?: number } = {}): ModelDescription {
    this.checkUsable();
    const batch = checkBatchOption(options.batch);
    const layout = planLayout(this.ctx, batch); // sizes only: describing never allocates
    return {
      backend: 'webgpu',
      inputSize: this.inputSize,
      outputSize: this.outputSize,
      batch,
      layers: this.layers,
      dispatches: layout.dispatches,
      submitsPerRun: 1,
      gpuBytes: { weights: this.ctx.weights.bytes, activations: layout.bufferSizes.reduce((n, s) => n + s, 0) },
      adapter: this.acquired.adapter,
    };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.queue; // runs already queued finish first
    for (const plan of this.plans.values()) (await plan.catch(() => null))?.destroy();
    this.plans.clear();
    this.ctx.weights.buffer.destroy();
    if (this.acquired.owned) this.ctx.device.destroy();
  }

  private checkUsable() {
    if (this.disposed) throw new DisposedError();
    if (this.lost !== null) throw new DeviceLostError(this.lost);
  }

  /** The plan for a batch size, most recently used last; evicts the oldest past the cap. */
  private async plan(batch: number): Promise<BatchPlan> {
    let plan = this.plans.get(batch);
    this.plans.delete(batch);
    if (!plan) plan = BatchPlan.create(this.ctx, batch);
    this.plans.set(batch, plan);
    plan.catch(() => this.plans.get(batch) === plan && this.plans.delete(batch));
    while (this.plans.size > this.maxCachedPlans) {
      const [oldest, evicted] = this.plans.entries().next().value!;
      this.plans.delete(oldest);
      (await evicted.catch(() => null))?.destroy();
    }
    return plan;
  }
}
