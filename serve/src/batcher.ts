/**
 * Dynamic batching: requests that arrive close together share one model.run(). A GPU run
 * costs about the same for 1 row as for 200 (the fixed cost is the submit and the read-back),
 * so under many concurrent clients this multiplies throughput; the rows of an MLP are
 * independent, so a row's output does not depend on what else is in its batch.
 */

export interface BatcherOptions {
  /** A run is started as soon as this many rows wait (a larger single request runs alone). */
  maxBatchRows: number;
  /**
   * How long the first waiting request may wait for others, in microseconds. Node timers count
   * whole milliseconds, so it is rounded up; 0 gathers what arrived in the same event-loop turn.
   */
  maxWaitUs: number;
  /**
   * Pad each batch to the next power of two rows. The WebGPU backend builds a plan (buffers,
   * bind groups) per distinct batch size; padding keeps the sizes to a handful.
   */
  padToPowerOfTwo?: boolean;
}

export interface BatcherHooks {
  /** After each run starts: how many rows (before padding) and requests it carries. */
  onBatch?(rows: number, requests: number): void;
  /** Whenever the number of waiting requests changes. */
  onQueueDepth?(requests: number): void;
}

interface Waiting {
  x: Float32Array;
  rows: number;
  resolve(y: Float32Array): void;
  reject(e: unknown): void;
}

/** A request given up (its client went away) while it still waited: it never reached a run. */
export class AbandonedError extends Error {
  readonly code = 'RESGPU_ABANDONED';
  constructor() {
    super('The client went away before its request ran.');
    this.name = 'AbandonedError';
  }
}

type RunFn = (x: Float32Array) => Promise<Float32Array>;

export class DynamicBatcher {
  private readonly waiting: Waiting[] = [];
  private waitingRows = 0;
  private timer: { cancel(): void } | null = null;
  /** One run at a time: while it runs, newcomers gather into the next batch. */
  private running = false;

  constructor(
    private readonly run: RunFn,
    private readonly inputSize: number,
    private readonly outputSize: number,
    private readonly options: BatcherOptions,
    private readonly hooks: BatcherHooks = {},
  ) {}

  /**
   * x holds `rows` rows; resolves with their `rows × outputSize` outputs. When `signal` aborts
   * while the request still waits, it leaves the queue (rejecting with AbandonedError), so a
   * client that went away costs no model time; once its run has started, it costs its rows.
   */
  predict(x: Float32Array, rows: number, signal?: AbortSignal): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new AbandonedError());
      const waiting: Waiting = { x, rows, resolve, reject };
      if (signal) {
        const abandon = () => this.abandon(waiting);
        signal.addEventListener('abort', abandon, { once: true });
        const done = () => signal.removeEventListener('abort', abandon);
        waiting.resolve = (y) => (done(), resolve(y));
        waiting.reject = (e) => (done(), reject(e));
      }
      this.waiting.push(waiting);
      this.waitingRows += rows;
      this.hooks.onQueueDepth?.(this.waiting.length);
      if (this.waitingRows >= this.options.maxBatchRows) this.flush();
      else this.timer ??= this.startTimer();
    });
  }

  private abandon(waiting: Waiting): void {
    const i = this.waiting.indexOf(waiting);
    if (i < 0) return; // already in a run: its rows are computed and dropped
    this.waiting.splice(i, 1);
    this.waitingRows -= waiting.rows;
    this.hooks.onQueueDepth?.(this.waiting.length);
    waiting.reject(new AbandonedError());
  }

  get queueDepth(): number {
    return this.waiting.length;
  }

  private startTimer(): { cancel(): void } {
    const fire = () => {
      this.timer = null;
      this.flush();
    };
    if (this.options.maxWaitUs <= 0) {
      const handle = setImmediate(fire);
      return { cancel: () => clearImmediate(handle) };
    }
    const handle = setTimeout(fire, Math.ceil(this.options.maxWaitUs / 1000));
    return { cancel: () => clearTimeout(handle) };
  }

  private flush(): void {
    this.timer?.cancel();
    this.timer = null;
    // A run in progress picks up the waiting requests when it ends.
    if (this.running || this.waiting.length === 0) return;
    const batch = this.take();
    this.running = true;
    void this.runBatch(batch).finally(() => {
      this.running = false;
      // Whoever arrived during the run has waited at least that long: go at once.
      if (this.waiting.length > 0) this.flush();
    });
  }

  /** Whole requests, oldest first, up to maxBatchRows rows (at least one request). */
  private take(): Waiting[] {
    let rows = 0;
    let n = 0;
    while (n < this.waiting.length && (n === 0 || rows + this.waiting[n]!.rows <= this.options.maxBatchRows)) {
      rows += this.waiting[n]!.rows;
      n++;
    }
    const batch = this.waiting.splice(0, n);
    this.waitingRows -= rows;
    this.hooks.onQueueDepth?.(this.waiting.length);
    return batch;
  }

  private async runBatch(batch: Waiting[]): Promise<void> {
    const rows = batch.reduce((sum, w) => sum + w.rows, 0);
    const padded = this.options.padToPowerOfTwo ? 2 ** Math.ceil(Math.log2(rows)) : rows;
    // One request needing no padding runs on its own array (no copy); else padding rows stay zero.
    const x = batch.length === 1 && padded === rows ? batch[0]!.x : new Float32Array(padded * this.inputSize);
    let offset = 0;
    for (const w of batch) {
      if (w.x !== x) x.set(w.x, offset);
      offset += w.x.length;
    }
    this.hooks.onBatch?.(rows, batch.length);
    try {
      const y = await this.run(x);
      let row = 0;
      for (const w of batch) {
        w.resolve(y.slice(row * this.outputSize, (row + w.rows) * this.outputSize));
        row += w.rows;
      }
    } catch (e) {
      for (const w of batch) w.reject(e);
    }
  }
}
