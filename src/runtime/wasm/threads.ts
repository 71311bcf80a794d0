import { CONTROL } from './layout.js';
import { workerMain, type WorkerSetup } from './worker-main.js';

/**
 * Compute workers sharing the model's WebAssembly memory: Node's worker_threads, or browser Web
 * Workers made from a Blob URL (no worker file for users to serve); they wake on the `go` word.
 *
 * In Node the calling thread is thread 0 and computes its share too (it may block at the
 * barriers). A browser's main thread must not block, and spinning there stalls the page and,
 * on a busy machine, the run itself (a spinning thread holds a core a descheduled worker needs):
 * there workers are all the threads, and the main thread awaits `done` with Atomics.waitAsync.
 */

/** Whether this environment can share a WebAssembly memory between threads. */
export function canShareMemory(): boolean {
  if (typeof SharedArrayBuffer === 'undefined' || typeof Atomics === 'undefined') return false;
  if (isNode()) return true;
  // Browsers hand out shared memory only to cross-origin isolated pages (COOP + COEP headers).
  return (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true && typeof Worker !== 'undefined';
}

export function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/** Node-only modules, imported through a variable so that bundlers leave them out of browser builds. */
function importNode<T>(name: string): Promise<T> {
  return import(/* @vite-ignore */ name) as Promise<T>;
}

/** Logical cores, where the environment says. */
export async function coreCount(): Promise<number> {
  if (isNode()) return (await importNode<{ availableParallelism(): number }>('node:os')).availableParallelism();
  return (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
}

/** The part of Node's worker_threads used here (declared, so the library's types need no @types/node). */
interface NodeWorker {
  on(event: 'message', listener: (m: string) => void): void;
  on(event: 'error', listener: (e: Error) => void): void;
  once(event: 'exit', listener: () => void): void;
  postMessage(m: unknown): void;
  unref(): void;
  terminate(): Promise<number>;
}
type NodeWorkerConstructor = new (code: string, options: { eval: true }) => NodeWorker;

interface AnyWorker {
  post(setup: WorkerSetup): void;
  terminate(): Promise<unknown> | void;
  /** Node: stop counting toward keeping the process alive. */
  detach?(): void;
  /** Settles when the worker has ended. */
  exited: Promise<void>;
}

async function spawn(onMessage: (m: string) => void): Promise<AnyWorker> {
  const body = `(${workerMain.toString()})`;
  if (isNode()) {
    const { Worker } = await importNode<{ Worker: NodeWorkerConstructor }>('node:worker_threads');
    const w = new Worker(`const { parentPort } = require('node:worker_threads');\n${body}((h) => parentPort.on('message', h), (m) => parentPort.postMessage(m));`, { eval: true });
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    w.on('message', onMessage);
    w.on('error', (e) => onMessage(`failed: ${e.message}`));
    // Once running, a forgotten dispose() must not keep the process alive (before 'ready', the
    // worker must keep it alive: nothing else may be pending while the model loads).
    return { post: (s) => w.postMessage(s), terminate: () => w.terminate(), detach: () => w.unref(), exited };
  }
  const source = `${body}((h) => { self.onmessage = (e) => h(e.data); }, (m) => self.postMessage(m));`;
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  try {
    const w = new Worker(url);
    w.onmessage = (e: MessageEvent<string>) => onMessage(e.data);
    w.onerror = (e) => onMessage(`failed: ${e.message}`);
    // A Web Worker ends when terminated; there is no event to wait for.
    let ended!: () => void;
    const exited = new Promise<void>((resolve) => (ended = resolve));
    return { post: (s) => w.postMessage(s), terminate: () => (w.terminate(), ended()), exited };
  } finally {
    // The worker has fetched its script by the time it runs; revoking later leaks nothing.
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}

type WaitAsync = (a: Int32Array, index: number, value: number) => { async: boolean; value: Promise<string> | string };

/** Whether the calling thread computes a share of each run (see above). */
export function callerComputes(): boolean {
  return isNode() || typeof (Atomics as { waitAsync?: WaitAsync }).waitAsync !== 'function';
}

export class WorkerPool {
  private constructor(
    private readonly workers: AnyWorker[],
    private readonly words: Int32Array,
    private readonly closed: Promise<unknown>[],
    /** Thread index of the first worker: 1 when the caller is thread 0, else 0. */
    readonly firstThread: number,
  ) {}

  /**
   * Starts the workers a model on `threads` threads needs and resolves once every one has
   * instantiated the module.
   */
  static async start(module: WebAssembly.Module, memory: WebAssembly.Memory, threads: number, spins: number): Promise<WorkerPool> {
    const firstThread = callerComputes() ? 1 : 0;
    const count = threads - firstThread;
    const words = new Int32Array(memory.buffer, 0, 16);
    const workers: AnyWorker[] = [];
    const ready: Promise<void>[] = [];
    const closed: Promise<unknown>[] = [];
    try {
      for (let i = 0; i < count; i++) {
        let settle!: (m: string) => void;
        let onClose!: () => void;
        ready.push(new Promise<void>((resolve, reject) => (settle = (m) => (m === 'ready' ? resolve() : reject(new Error(`A compute worker ${m}`))))));
        closed.push(new Promise<void>((resolve) => (onClose = resolve)));
        const w = await spawn((m) => (m === 'closed' ? onClose() : settle(m)));
        workers.push(w);
        w.post({ module, memory, thread: firstThread + i, control: CONTROL, spins });
      }
      await Promise.all(ready);
      for (const w of workers) w.detach?.();
    } catch (e) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw e;
    }
    return new WorkerPool(workers, words, closed, firstThread);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Settles once every worker has ended (after close()). */
  get exited(): Promise<void> {
    return Promise.all(this.workers.map((w) => w.exited)).then(() => undefined);
  }

  /**
   * Runs the step table at `plan` on `threads` threads: with the caller as thread 0 (`compute`
   * is its share, called synchronously), or on workers alone, awaiting the last one.
   */
  async run(plan: number, steps: number, threads: number, compute: () => void): Promise<void> {
    if (this.firstThread === 1) {
      this.wake(plan, steps, threads);
      compute();
      return;
    }
    const done = Atomics.load(this.words, CONTROL.done);
    this.wake(plan, steps, threads);
    const wait = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync(this.words, CONTROL.done, done);
    if (wait.async) await wait.value;
  }

  private wake(plan: number, steps: number, threads: number): void {
    Atomics.store(this.words, CONTROL.plan, plan);
    Atomics.store(this.words, CONTROL.steps, steps);
    Atomics.store(this.words, CONTROL.threads, threads);
    Atomics.add(this.words, CONTROL.go, 1);
    Atomics.notify(this.words, CONTROL.go);
  }

  /** Ends the workers' loops, then the workers. */
  async close(): Promise<void> {
    Atomics.store(this.words, CONTROL.quit, 1);
    Atomics.add(this.words, CONTROL.go, 1);
    Atomics.notify(this.words, CONTROL.go);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise((resolve) => (timer = setTimeout(resolve, 1000)));
    await Promise.race([Promise.all(this.closed), timeout]);
    clearTimeout(timer);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
