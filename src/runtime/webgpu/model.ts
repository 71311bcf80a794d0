import { DeviceLostError, DisposedError } from '../../errors.js';
import { fuseAnyGraph } from '../../graph/fuse.js';
import { graphSizes, type OpGraph } from '../../graph/op-graph.js';
import type { AnyFusedModel } from '../../graph/steps.js';
import type { StreamedModel } from '../../graph/stream.js';
import type { DescribeOptions, Model, ModelDescription, RunOptions } from '../../model.js';
import { checkBatchOption } from '../input.js';
import { ModelBase, type InputPolicy } from '../model-base.js';
import { acquireDevice, type AcquiredDevice, type DeviceOptions } from './device.js';
import { describeDispatches, planLayout, valueStrides, type LayoutDevice } from './layout.js';
import { onDeviceLoss } from './loss-watch.js';
import { compiledKernelsFor } from './pipelines.js';
import { BatchPlan, type PlanContext } from './plan.js';
import { selectKernel, type Selection } from './select.js';
import { tuneBatch, type Tuner } from './tune.js';
import { defaultTuningCache } from './tuning-cache.js';
import type { LoadOptions } from '../../options.js';
import type { KernelVariant } from '../../kernels/registry.js';
import { allocateWeights, uploadAsNodesArrive, type UploadedWeights } from './weights.js';

/** The load options this backend reads (documented in src/options.ts). */
export type GpuModelOptions = DeviceOptions &
  InputPolicy &
  Pick<LoadOptions, 'onProgress' | 'maxCachedPlans' | 'debug' | 'precision' | 'kernel' | 'autotune' | 'tuningCache' | 'deterministic'>;

/** Milliseconds of kernel measurements allowed each time a new batch size is planned. */
const TUNING_BUDGET_MS = 300;

/**
 * A model on WebGPU: folded weights in one GPU buffer, pipelines compiled at load, and one
 * plan per batch size (made on first use, cached). Runs are serialized, so overlapping
 * run() calls each get their own, correct result.
 */
export class GpuModel extends ModelBase implements Model {
  readonly backend = 'webgpu';
  /** With { profile: true } on an adapter with 'timestamp-query': GPU time of the last run's kernels, ms. */
  lastRunGpuMs: number | null = null;
  /** Plans by input size and batch ("<shapeKey>:<batch>"; the loaded size's key is empty). */
  private readonly plans = new Map<string, Promise<BatchPlan>>();
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;
  /** Set when the device is lost. Held apart so that the device's `lost` callback does not keep the model alive. */
  private readonly state: { lost: string | null } = { lost: null };
  private readonly unwatch: () => void;

  private constructor(
    graph: OpGraph,
    private readonly lowered: AnyFusedModel,
    private readonly strides: readonly number[],
    private readonly ctx: PlanContext,
    private readonly acquired: AcquiredDevice,
    private readonly maxCachedPlans: number,
    private readonly caps: LayoutDevice,
    private readonly selection: Selection,
    private readonly tuner: Tuner | null,
    policy: InputPolicy,
  ) {
    super(graph, policy);
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
      // Checked where options enter (options.ts).
      const caps: LayoutDevice = { software: acquired.adapter?.software ?? false, limits: device.limits, features: device.features };
      const precision = options.precision ?? 'f32';
      // Deterministic: one kernel per GEMM step at every batch size, by rule, never measured
      // (each kernel sums every output in a fixed order; switching kernels with the batch would not).
      const forced = options.kernel ?? (options.deterministic ? (caps.software ? 'gemm' : 'gemm_tiled') : null);
      const selection = { precision, forced, measured: new Map<string, KernelVariant>() };
      const graph = await model.shapes;
      const lowered = fuseAnyGraph(graph);
      const strides = valueStrides(lowered);
      weights = await allocateWeights(device, lowered, strides, precision);
      const kernels = compiledKernelsFor(device, options.debug);
      // What the rule picks for the smallest and a large batch compiles during the download.
      const likely = lowered.steps.flatMap((step) => [1, 1024].map((rows) => ({ step, kernel: selectKernel(step, rows, caps, selection) })));
      const compiled = kernels.prepare(likely);
      compiled.catch(() => undefined); // awaited below, after the upload
      await uploadAsNodesArrive(device, weights, model, lowered, strides, options.onProgress);
      await model.finished;
      options.onProgress?.({ stage: 'compile', loadedBytes: 0, totalBytes: null });
      await compiled;
      const profile = Boolean(options.profile) && device.features.has('timestamp-query');
      const ctx: PlanContext = { device, kernels, weights, ...graphSizes(graph), profile };
      const tuner: Tuner | null =
        !(options.autotune ?? !caps.software) || forced
          ? null
          : {
              device,
              caps,
              kernels,
              weights,
              selection,
              cache: options.tuningCache ?? defaultTuningCache(),
              adapterKey: JSON.stringify([acquired.adapter?.vendor, acquired.adapter?.architecture, acquired.adapter?.description]),
              budgetMs: TUNING_BUDGET_MS,
            };
      return new GpuModel(graph, lowered, strides, ctx, acquired, Math.max(1, options.maxCachedPlans ?? 4), caps, selection, tuner, options);
    } catch (e) {
      model.cancel();
      weights?.buffer.destroy();
      if (owned) device.destroy();
      throw e;
    }
  }

  async run(x: Float32Array, options?: RunOptions): Promise<Float32Array> {
    this.checkUsable();
    const { batch, shape, key } = this.inputOf(x, options);
    const fused = this.fusedAt(key, shape);
    // Copy now: the caller may reuse its array before this run's turn comes.
    const input = x.slice();
    // Runs queued before dispose() still run: dispose waits for them.
    const result = this.queue.then(async () => {
      if (this.state.lost !== null) throw new DeviceLostError(this.state.lost);
      const plan = await this.plan(fused, key, batch);
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

  describe(options: DescribeOptions = {}): ModelDescription {
    this.checkUsable();
    const batch = checkBatchOption(options.batch);
    const { shape, key } = this.rowShape(options);
    const { lowered, strides } = this.fusedAt(key, shape);
    // Sizes only: describing never allocates. The kernels shown are those a run would use now.
    const layout = planLayout(lowered, strides, batch, this.caps, this.selection);
    return {
      backend: 'webgpu',
      ...this.describeModel(batch, { shape, key }),
      dispatches: describeDispatches(layout),
      submitsPerRun: 1,
      gpuBytes: { weights: this.ctx.weights.bytes, activations: layout.bufferSizes.reduce((n, s) => n + s, 0) },
      adapter: this.acquired.adapter,
      precision: this.selection.precision,
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

  /**
   * The fused model at an input size: the loaded one, or the graph fused again at that size
   * (the same steps in the same order, so the same weights: they never depend on the image size).
   */
  private fusedAt(key: string | null, shape: readonly number[]): { lowered: AnyFusedModel; strides: readonly number[] } {
    if (key === null) return { lowered: this.lowered, strides: this.strides };
    return this.atSize(key, shape, (graph) => {
      const lowered = fuseAnyGraph(graph);
      const strides = valueStrides(lowered);
      const same = lowered.steps.length === this.lowered.steps.length && lowered.steps.every((s, i) => s.op === this.lowered.steps[i]!.op && s.input === this.lowered.steps[i]!.input && strides[s.input] === this.strides[s.input]);
      // Fusion decides from shapes; a different decision would mean weights packed for other steps.
      if (!same) throw this.otherSteps(shape);
      return { lowered, strides };
    });
  }

  private async makePlan(lowered: AnyFusedModel, strides: readonly number[], batch: number): Promise<BatchPlan> {
    planLayout(lowered, strides, batch, this.caps, this.selection); // a batch beyond the limits fails before measuring
    if (this.tuner) await tuneBatch(this.tuner, lowered, strides, batch);
    const layout = planLayout(lowered, strides, batch, this.caps, this.selection);
    await this.ctx.kernels.prepare(layout.dispatches);
    return BatchPlan.create(this.ctx, layout);
  }

  /** The plan for an input size and batch, most recently used last; evicts the oldest past the cap. */
  private async plan(fused: { lowered: AnyFusedModel; strides: readonly number[] }, size: string | null, batch: number): Promise<BatchPlan> {
    const key = `${size ?? ''}:${batch}`;
    let plan = this.plans.get(key);
    this.plans.delete(key);
    if (!plan) plan = this.makePlan(fused.lowered, fused.strides, batch);
    this.plans.set(key, plan);
    plan.catch(() => this.plans.get(key) === plan && this.plans.delete(key));
    while (this.plans.size > this.maxCachedPlans) {
      const [oldest, evicted] = this.plans.entries().next().value!;
      this.plans.delete(oldest);
      (await evicted.catch(() => null))?.destroy();
    }
    return plan;
  }
}
