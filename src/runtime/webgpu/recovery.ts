import { DeviceLostError, DisposedError, GpuValidationError, ResgpuError } from '../../errors.js';
import type { StreamedModel } from '../../graph/stream.js';
import type { DescribeOptions, ImagePreprocess, Model, ModelDescription, RunOptions } from '../../model.js';
import { onDeviceLoss } from './loss-watch.js';
import { GpuModel, type GpuModelOptions } from './model.js';

/** What onDeviceLost is told. */
export interface DeviceLossInfo {
  reason: string;
  message: string;
  /** Whether the next run() will rebuild the model on a new device by itself. */
  willRecover: boolean;
}

export interface RecoveryOptions extends GpuModelOptions {
  /** Called once per lost device, as soon as the loss is known. */
  onDeviceLost?: (info: DeviceLossInfo) => void;
}

/**
 * The model's data once more, for a rebuild on a new device: the original source read again
 * (URL, Blob), or the host copy kept with keepWeightsOnHost; null when neither exists.
 */
export type Reload = (() => StreamedModel) | null;

/** How long a failed run waits for the device's `lost` promise before calling the failure something else. */
const LOSS_SETTLE_MS = 200;

/**
 * A WebGPU model that survives device loss. Runs in flight when the device is lost reject with
 * DeviceLostError; the next run() acquires a new device and rebuilds the model there (buffers,
 * pipelines, folded weights from `reload`), then runs, unprompted. A device the caller passed
 * in is never replaced: runs then fail with a DeviceLostError that says to pass a new one.
 * The loss is watched through a small state object, so a shared device's `lost` promise never
 * keeps a disposed model alive.
 */
export class RecoveringModel implements Model {
  readonly backend = 'webgpu';
  readonly inputSize: number;
  readonly outputSize: number;
  readonly inputNames?: readonly string[];
  readonly outputNames?: readonly string[];
  readonly features?: readonly string[];
  readonly labels?: readonly string[];
  readonly preprocess?: ImagePreprocess;
  readonly inputShape: readonly number[];
  private state: { lost: GPUDeviceLostInfo | null; unwatch: () => void };
  private rebuilding: Promise<GpuModel> | null = null;
  private disposed = false;

  private constructor(
    private inner: GpuModel,
    private readonly reload: Reload,
    private readonly options: RecoveryOptions,
  ) {
    this.inputSize = inner.inputSize;
    this.outputSize = inner.outputSize;
    this.inputNames = inner.inputNames;
    this.outputNames = inner.outputNames;
    this.features = inner.features;
    this.labels = inner.labels;
    if (inner.preprocess) this.preprocess = inner.preprocess;
    this.inputShape = inner.inputShape;
    this.state = this.watch(inner.device);
  }

  static async create(stream: StreamedModel, reload: Reload, options: RecoveryOptions): Promise<RecoveringModel> {
    return new RecoveringModel(await GpuModel.create(stream, options), reload, options);
  }

  /** The device the model runs on now; a new one after a recovery. */
  get device(): GPUDevice {
    return this.inner.device;
  }

  get lastRunGpuMs(): number | null {
    return this.inner.lastRunGpuMs;
  }

  async run(x: Float32Array, options?: RunOptions): Promise<Float32Array> {
    if (this.disposed) throw new DisposedError();
    if (this.state.lost) await this.recover();
    const inner = this.inner;
    const state = this.state;
    try {
      return await inner.run(x, options);
    } catch (e) {
      if (e instanceof ResgpuError && e.code !== 'DEVICE_LOST') throw e;
      // A run in flight when the device goes: mapAsync rejects (a DOMException with no message, in Dawn) before `lost` settles.
      const lost = state.lost ?? (await Promise.race([inner.device.lost, new Promise<null>((ok) => setTimeout(() => ok(null), LOSS_SETTLE_MS))]));
      if (lost) throw this.lostError(lost);
      throw new GpuValidationError(`The GPU failed a run: ${(e as Error).message || (e as Error).name || String(e)}`);
    }
  }

  describe(options?: DescribeOptions): ModelDescription {
    if (this.disposed) throw new DisposedError();
    // describe() is synchronous: it cannot rebuild, but says whether the next run() will.
    if (this.state.lost) throw this.lostError(this.state.lost);
    return this.inner.describe(options);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.state.unwatch();
    await this.rebuilding?.catch(() => undefined);
    await this.inner.dispose();
  }

  private watch(device: GPUDevice): { lost: GPUDeviceLostInfo | null; unwatch: () => void } {
    const state = { lost: null as GPUDeviceLostInfo | null, unwatch: () => undefined as unknown };
    const { onDeviceLost } = this.options;
    const willRecover = this.reload !== null && !this.options.device;
    // Only the state object and the callback are held by the device's watcher: not this model.
    state.unwatch = onDeviceLoss(device, (info) => {
      state.lost = info;
      onDeviceLost?.({ reason: info.reason, message: info.message, willRecover });
    });
    return state as { lost: GPUDeviceLostInfo | null; unwatch: () => void };
  }

  private lostError(info: GPUDeviceLostInfo): DeviceLostError {
    const reason = info.message || info.reason;
    if (this.options.device) return new DeviceLostError(reason, 'it was passed in as { device }, so resgpu does not replace it: load the model again with a new device');
    if (!this.reload) {
      return new DeviceLostError(
        reason,
        'the model came from bytes resgpu cannot read again: load it again, or load it from a URL or Blob, or with ' +
          '{ keepWeightsOnHost: true }, to have the next run() recover by itself',
      );
    }
    return new DeviceLostError(reason, 'the next run() rebuilds the model on a new device');
  }

  /** Rebuilds on a new device, once however many runs are waiting; throws when it cannot. */
  private async recover(): Promise<void> {
    const lost = this.state.lost!;
    if (this.options.device || !this.reload) throw this.lostError(lost);
    this.rebuilding ??= GpuModel.create(this.reload(), { ...this.options, onProgress: undefined });
    const pending = this.rebuilding;
    try {
      const fresh = await pending;
      if (this.inner === fresh) return; // another waiting run swapped it in already
      const old = this.inner;
      this.inner = fresh;
      this.state.unwatch();
      this.state = this.watch(fresh.device);
      void old.dispose().catch(() => undefined);
    } catch (e) {
      throw e instanceof ResgpuError ? e : new DeviceLostError(lost.message || lost.reason, `rebuilding on a new device failed (${String(e)})`);
    } finally {
      if (this.rebuilding === pending) this.rebuilding = null;
    }
  }
}
