import { CONTROL } from './layout.js';
import { workerMain, type WorkerSetup } from './worker-main.js';

/**
 * Compute workers sharing the model's WebAssembly memory: Node's worker_threads, or browser Web
 * Workers made from a Blob URL (no worker file for users to serve). The calling thread is
 * thread 0 and computes its share too; workers 1..n-1 wake on the `go` word.
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
}

async function spawn(onMessage: (m: string) => void): Promise<AnyWorker> {
  const body = `(${workerMain.toString()})`;
  if (isNode()) {
    const { Worker } = await importNode<{ Worker: NodeWorkerConstructor }>('node:worker_threads');
    const w = new Worker(`const { parentPort } = require('node:worker_threads');\n${body}((h) => parentPort.on('message', h), (m) => parentPort.postMessage(m));`, { eval: true });
    w.on('message', onMessage);
    w.on('error', (e) => onMessage(`failed: ${e.message}`));
    // Once running, a forgotten dispose() must not keep the process alive (before 'ready', the
    // worker must keep it alive: nothing else may be pending while the model loads).
    return { post: (s) => w.postMessage(s), terminate: () => w.terminate(), detach: () => w.unref() };
  }
  const source = `${body}((h) => { self.onmessage = (e) => h(e.data); }, (m) => self.postMessage(m));`;
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  try {
    const w = new Worker(url);
    w.onmessage = (e: MessageEvent<string>) => onMessage(e.data);
    w.onerror = (e) => onMessage(`failed: ${e.message}`);
    return { post: (s) => w.postMessage(s), terminate: () => w.terminate() };
  } finally {
    // The worker has fetched its script by the time it runs; revoking later leaks nothing.
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}

export class WorkerPool {
  private constructor(
    private readonly workers: AnyWorker[],
    private readonly words: Int32Array,
    private readonly closed: Promise<unknown>[],
  ) {}

  /** Starts `count` workers on the memory and resolves once every one has instantiated the module. */
  static async start(module: WebAssembly.Module, memory: WebAssembly.Memory, count: number, spins: number): Promise<WorkerPool> {
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
        w.post({ module, memory, thread: i + 1, control: CONTROL, spins });
      }
      await Promise.all(ready);
      for (const w of workers) w.detach?.();
    } catch (e) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw e;
    }
    return new WorkerPool(workers, words, closed);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Wakes workers 1..threads-1 for the run whose step table is at `plan`. */
  start(plan: number, steps: number, threads: number): void {
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
