/**
 * The code of one compute worker, run as the source text of `workerMain` (threads.ts wraps it
 * for Node's worker_threads or a browser Web Worker), so it must stay self-contained: it may
 * use nothing from outside its own body. It instantiates the gemm module on the shared memory,
 * then waits for a run (a change of the `go` word), takes its share of it, and waits again,
 * until `quit` is set. It never returns to its event loop in between: a run starts with one
 * wake-up, not a message. Thread 0, when it is a worker, bumps `done` once the run is over
 * (the module's last barrier has passed, so every thread has finished).
 */
export interface WorkerSetup {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  thread: number;
  /** i32 indices of the control words (layout.ts CONTROL). */
  control: { go: number; quit: number; plan: number; steps: number; threads: number; done: number };
  /** Iterations to poll `go` before sleeping: catches back-to-back runs without a wake-up. */
  spins: number;
}

export function workerMain(receive: (handler: (setup: WorkerSetup) => void) => void, send: (message: string) => void): void {
  receive((setup) => {
    const { module, memory, thread, control, spins } = setup;
    void WebAssembly.instantiate(module, { env: { memory } }).then(
      (instance) => {
        const run = instance.exports.run as (plan: number, steps: number, thread: number, threads: number, canBlock: number) => void;
        // The control words sit at address 0, which every later view of the memory still covers.
        const words = new Int32Array(memory.buffer, 0, 16);
        let seen = Atomics.load(words, control.go);
        send('ready');
        for (;;) {
          for (let i = 0; i < spins && Atomics.load(words, control.go) === seen; i++);
          Atomics.wait(words, control.go, seen);
          seen = Atomics.load(words, control.go);
          if (Atomics.load(words, control.quit) !== 0) break;
          const threads = Atomics.load(words, control.threads);
          if (thread >= threads) continue;
          run(Atomics.load(words, control.plan), Atomics.load(words, control.steps), thread, threads, 1);
          if (thread === 0) {
            Atomics.add(words, control.done, 1);
            Atomics.notify(words, control.done);
          }
        }
        send('closed');
      },
      (e: unknown) => send(`failed: ${String(e)}`),
    );
  });
}
