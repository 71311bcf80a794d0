import { DeviceLostError, DisposedError } from '../../errors.js';
import { layersOf, lowerModel, type LoweredModel } from '../../graph/lower.js';
import type { LayerSpec, ModelSpec } from '../../graph/spec.js';
import type { ProgressCallback, StreamedModel } from '../../graph/stream.js';
import type { Model, ModelDescription } from '../../model.js';
import { checkBatchOption } from '../input.js';
import { ModelBase, type InputPolicy } from '../model-base.js';
import { acquireDevice, type AcquiredDevice, type DeviceOptions } from './device.js';
import { describeDispatches, planLayout, valueStrides } from './layout.js';
import { onDeviceLoss } from './loss-watch.js';
import { CompiledKernels } from './pipelines.js';
import { BatchPlan, type PlanContext } from './plan.js';
import { candidates } from './select.js';
import { allocateWeights, scratchLength, uploadStep, type UploadedWeights } from './weights.js';

export interface GpuModelOptions extends DeviceOptions, InputPolicy {
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
export class GpuModel extends ModelBase implements Model {
  readonly backend = 'webgpu';
  /** With { profile: true } on an adapter with 'timestamp-query': GPU time of the last run's kernels, ms. */
  lastRunGpuMs: number | null = null;
  private readonly plans = new Map<number, Promise<BatchPlan>>();
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;
  /** Set when the device is lost. Held apart so that the device's `lost` callback does not keep the model alive. */
  private readonly state: { lost: string | null } = { lost: null };
  private readonly unwatch: () => void;

  private constructor(
    spec: ModelSpec,
    private readonly lowered: LoweredModel,
    private readonly strides: readonly number[],
    private readonly ctx: PlanContext,
    private readonly acquired: AcquiredDevice,
    private readonly maxCachedPlans: number,
    policy: InputPolicy,
  ) {
    super(spec, policy);
    const state = this.state;
    this.unwatch = onDeviceLoss(ctx.device, (info) => (state.lost = info.message || info.reason));
  }

  /**
   * Builds the model while its file is still arriving: the device is acquired during the
   * download; once the header is in, the model is lowered (once), the weight buffer allocated
   * and the kernels start compiling; each step is folded and uploaded as soon as the layers
   * its weights come from are complete.
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
      const lowered = lowerModel(spec);
      const strides = valueStrides(lowered);
      weights = await allocateWeights(device, lowered, strides);
      const kernels = new CompiledKernels(device, options.debug);
      const compiled = kernels.prepare(lowered.steps.flatMap((step) => candidates(step, device).map((kernel) => ({ kernel, step }))));
      compiled.catch(() => undefined); // awaited below, after the upload
      await uploadAsLayersArrive(model, lowered, strides, device, weights, options.onProgress);
      await model.finished;
      options.onProgress?.({ stage: 'compile', loadedBytes: 0, totalBytes: null });
      await compiled;
      const profile = Boolean(options.profile) && device.features.has('timestamp-query');
      const ctx: PlanContext = { device, kernels, weights, inputSize: spec.inputSize, outputSize: spec.outputSize, profile };
      return new GpuModel(spec, lowered, strides, ctx, acquired, Math.max(1, options.maxCachedPlans ?? 4), options);
    } catch (e) {
      model.cancel();
      weights?.buffer.destroy();
      if (owned) device.destroy();
      throw e;
    }
  }

  async run(x: Float32Array): Promise<Float32Array> {
    this.checkUsable();
    const batch = this.batchOf(x);
    // Copy now: the caller may reuse its array before this run's turn comes.
    const input = x.slice();
    // Runs queued before dispose() still run: dispose waits for them.
    const result = this.queue.then(async () => {
      if (this.state.lost !== null) throw new DeviceLostError(this.state.lost);
      const plan = await this.plan(batch);
      const y = await plan.run(input);
      this.lastRunGpuMs = plan.lastGpuMs;
      return y;
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** The device this model runs on (read-only). */
  get device(): GPUDevice {
    return this.ctx.device;
  }

  describe(options: { batch?: number } = {}): ModelDescription {
    this.checkUsable();
    const batch = checkBatchOption(options.batch);
    const layout = planLayout(this.lowered, this.strides, batch, this.ctx.device); // sizes only: describing never allocates
    return {
      backend: 'webgpu',
      ...this.describeModel(batch),
      dispatches: describeDispatches(layout),
      submitsPerRun: 1,
      gpuBytes: { weights: this.ctx.weights.bytes, activations: layout.bufferSizes.reduce((n, s) => n + s, 0) },
      adapter: this.acquired.adapter,
    };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.unwatch();
    await this.queue; // runs already queued finish first
    for (const plan of this.plans.values()) (await plan.catch(() => null))?.destroy();
    this.plans.clear();
    this.ctx.weights.buffer.destroy();
    if (this.acquired.owned) this.ctx.device.destroy();
  }

  private checkUsable() {
    if (this.disposed) throw new DisposedError();
    if (this.state.lost !== null) throw new DeviceLostError(this.state.lost);
  }

  /** The plan for a batch size, most recently used last; evicts the oldest past the cap. */
  private async plan(batch: number): Promise<BatchPlan> {
    let plan = this.plans.get(batch);
    this.plans.delete(batch);
    if (!plan) {
      const layout = planLayout(this.lowered, this.strides, batch, this.ctx.device);
      plan = this.ctx.kernels.prepare(layout.dispatches).then(() => BatchPlan.create(this.ctx, layout));
    }
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

/**
 * Folds, packs and uploads each step once every layer its weights come from has arrived, and
 * lets go of each layer (the file's bytes) once every step that reads it is uploaded.
 */
async function uploadAsLayersArrive(
  model: StreamedModel,
  lowered: LoweredModel,
  strides: readonly number[],
  device: GPUDevice,
  weights: UploadedWeights,
  onProgress?: ProgressCallback,
): Promise<void> {
  const layerCount = Math.max(0, ...lowered.steps.flatMap(layersOf).map((l) => l + 1));
  const arrived: LayerSpec[] = [];
  const readers = new Array<number>(layerCount).fill(0);
  lowered.steps.forEach((s) => layersOf(s).forEach((l) => readers[l]!++));
  const waiting = new Set(lowered.steps.keys());
  const scratch = new Float32Array(scratchLength(weights));
  for (let i = 0; i < layerCount; i++) {
    arrived[i] = await model.layer(i);
    for (const index of waiting) {
      const step = lowered.steps[index]!;
      if (!layersOf(step).every((l) => arrived[l])) continue;
      const { weight, bias } = weights.ranges[index]!;
      onProgress?.({ stage: 'fold', loadedBytes: weight.offset, totalBytes: weights.bytes });
      uploadStep(device, weights, index, step, arrived, strides, scratch);
      onProgress?.({ stage: 'upload', loadedBytes: bias.offset + bias.size, totalBytes: weights.bytes });
      waiting.delete(index);
      for (const l of layersOf(step)) if (--readers[l]! === 0) delete arrived[l];
    }
  }
}
