import type { Model } from 'resgpu';
import { modelShape, type ModelShape } from 'resgpu/cli';
import type { AuditLog } from './audit.js';
import { AbandonedError, DynamicBatcher } from './batcher.js';
import type { Metrics } from './metrics.js';

/** A model as the server is given it: loaded, named, versioned. */
export interface ModelSource {
  /** Its name in URLs (/v2/models/{name}) and metrics: letters, digits, '_', '.', '-'. */
  name: string;
  /** Default '1'. */
  version?: string;
  /** Where it came from, for people (docs, /healthz, the ready line); default: the name. */
  file?: string;
  model: Model;
}

export interface BatchingOptions {
  /** Coalesce concurrent requests into one run (default true). */
  batching: boolean;
  maxBatchRows: number;
  maxWaitUs: number;
}

export const MODEL_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** The response header carrying the answering model's fingerprint (model.fingerprint.model). */
export const FINGERPRINT_HEADER = 'resgpu-model-fingerprint';

/**
 * One served model and its own batcher: every request for it, /v1 or /v2, JSON or binary, goes
 * through `predict`, so requests of every kind share its runs.
 */
export class ServedModel {
  readonly name: string;
  readonly version: string;
  readonly file: string;
  readonly model: Model;
  readonly shape: ModelShape;
  /** The file's names where it has them (ONNX), else the protocol's plain 'input' and 'output'. */
  readonly inputName: string;
  readonly outputName: string;
  /**
   * One row's shape, the batch excluded: [inputSize] for today's tabular models. A model that
   * declares `inputShape` (an image model's [C, H, W]) is served with that shape; the protocol's
   * metadata then says [-1, C, H, W] and requests must match it.
   */
  readonly rowShape: readonly number[];
  /** False once the server is shutting down. */
  ready = true;
  private readonly batcher: DynamicBatcher;
  private readonly labels: { model: string; version: string };

  constructor(
    source: ModelSource,
    options: BatchingOptions,
    private readonly metrics: Metrics,
    private readonly audit: AuditLog | null = null,
  ) {
    if (!MODEL_NAME.test(source.name)) throw new Error(`Bad model name ${JSON.stringify(source.name)}: use letters, digits, '_', '.' and '-'.`);
    this.name = source.name;
    this.version = source.version ?? '1';
    this.file = source.file ?? source.name;
    this.model = source.model;
    this.shape = modelShape(source.model);
    this.inputName = source.model.inputNames?.[0] ?? 'input';
    this.outputName = source.model.outputNames?.[0] ?? 'output';
    const declared = (source.model as { inputShape?: readonly number[] }).inputShape;
    this.rowShape = declared && declared.reduce((a, b) => a * b, 1) === source.model.inputSize ? [...declared] : [source.model.inputSize];
    this.labels = { model: this.name, version: this.version };
    const model = source.model;
    // Without batching the queue is still the server's, one request per run (maxBatchRows 1 takes
    // exactly one), not the model's own: a request whose client left while it waited is dropped
    // before it runs. Handed straight to model.run(), it could not be, and under load every
    // abandoned request still cost a full run (an image ResNet on SwiftShader: 0 to 2 requests/s
    // answered at 200 clients, the queue full of requests whose clients had timed out).
    this.batcher = new DynamicBatcher((x) => model.run(x), model.inputSize, model.outputSize, {
      maxBatchRows: options.batching ? options.maxBatchRows : 1,
      maxWaitUs: options.batching ? options.maxWaitUs : 0,
      // The WebGPU backend builds a plan per batch size: powers of two keep them few.
      padToPowerOfTwo: options.batching && model.backend === 'webgpu',
    }, {
      onBatch: (rows, requests) => this.observeRun(rows, requests),
      onQueueDepth: (n) => metrics.queueDepth.set(this.labels, n),
    });
    metrics.queueDepth.set(this.labels, 0);
  }

  /**
   * Runs `rows` rows (x, row-major); `signal` aborts a request still waiting (its client left).
   * With an audit log, the answer is logged under `requestId`.
   */
  async predict(x: Float32Array, rows: number, signal?: AbortSignal, requestId?: string): Promise<Float32Array> {
    try {
      const y = await this.batcher.predict(x, rows, signal);
      this.audit?.record(this, requestId ?? 'none', x, y, rows);
      return y;
    } catch (e) {
      if (e instanceof AbandonedError) this.metrics.abandoned.inc(this.labels);
      throw e;
    }
  }

  /** What /healthz and the ready line say about it. */
  summary() {
    const m = this.model;
    return {
      name: this.name,
      version: this.version,
      file: this.file,
      backend: m.backend,
      inputSize: m.inputSize,
      outputSize: m.outputSize,
      fingerprint: m.fingerprint?.model ?? null,
      fileFingerprint: m.fingerprint?.file ?? null,
      selfTest: m.selfTest ?? null,
    };
  }

  /** Every answer names the exact model it came from (FINGERPRINT_HEADER), so a logged prediction is traceable. */
  stamp(reply: { header(name: string, value: string): unknown }): void {
    reply.header(FINGERPRINT_HEADER, this.model.fingerprint?.model ?? 'none');
  }

  private observeRun(rows: number, requests: number): void {
    this.metrics.batchRows.observe(this.labels, rows);
    this.metrics.batchRequests.observe(this.labels, requests);
  }
}

/**
 * The served models by name and version. A request naming no version gets the highest
 * (numerically when both are numbers), as Triton's default version policy does.
 */
export class ModelTable {
  private readonly byName = new Map<string, ServedModel[]>();

  constructor(readonly all: readonly ServedModel[]) {
    for (const m of all) {
      const versions = this.byName.get(m.name) ?? [];
      if (versions.some((v) => v.version === m.version)) throw new Error(`Model ${m.name} version ${m.version} is given twice.`);
      versions.push(m);
      versions.sort((a, b) => compareVersions(b.version, a.version));
      this.byName.set(m.name, versions);
    }
  }

  /** The model, or undefined when no such name (or version) is served. */
  find(name: string, version?: string): ServedModel | undefined {
    const versions = this.byName.get(name);
    return version === undefined ? versions?.[0] : versions?.find((m) => m.version === version);
  }

  versionsOf(name: string): string[] {
    return (this.byName.get(name) ?? []).map((m) => m.version);
  }

  /** One per name: the version a request without one gets. */
  defaults(): ServedModel[] {
    return [...this.byName.values()].map((v) => v[0]!);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }
}

function compareVersions(a: string, b: string): number {
  const [x, y] = [Number(a), Number(b)];
  return Number.isFinite(x) && Number.isFinite(y) ? x - y : a.localeCompare(b);
}
