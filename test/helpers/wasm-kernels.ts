import { DESCRIPTOR_BYTES, writeDescriptor, type StepDescriptor } from '../../src/runtime/wasm/descriptor.js';
import { gemmModuleBytes, type GemmExports } from '../../src/runtime/wasm/module.js';
import { detectSimd } from '../../src/runtime/wasm/simd.js';
import { WorkerPool } from '../../src/runtime/wasm/threads.js';

/**
 * The gemm module alone, on a memory the test fills by hand: a bump allocator of 64-byte-aligned
 * float regions, descriptors written with descriptor.ts, and runs on one thread or on a
 * WorkerPool sharing the memory (as WasmModel runs them). The build variant is the one this
 * engine runs (detectSimd), shared when threads > 1.
 */
export interface KernelHarness {
  memory: WebAssembly.Memory;
  exports: GemmExports & { vector_math(fn: number, src: number, dst: number, count: number): void };
  threads: number;
  /** Byte offset of a fresh, zeroed region of `floats` floats. */
  alloc(floats: number): number;
  /** Copies `values` to the floats at byte offset `at`. */
  write(at: number, values: ArrayLike<number>): void;
  read(at: number, count: number): Float32Array;
  /** Runs these steps once (descriptors written at the plan), on `threads` threads. */
  run(steps: StepDescriptor[]): Promise<void>;
  /** Forgets every allocation (the memory stays). */
  reset(): void;
  close(): Promise<void>;
}

const PLAN = 64;
const PLAN_BYTES = 64 * DESCRIPTOR_BYTES;
const HEAP = PLAN + PLAN_BYTES;

export async function kernelHarness(threads: number): Promise<KernelHarness> {
  const simd = detectSimd();
  if (!simd) throw new Error('this engine has no WebAssembly SIMD');
  const shared = threads > 1;
  const module = await WebAssembly.compile(gemmModuleBytes(simd, shared));
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 4096, shared });
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const pool = shared ? await WorkerPool.start(module, memory, threads, 1000) : null;
  const exports = instance.exports as unknown as KernelHarness['exports'];
  let top = HEAP;
  return {
    memory,
    exports,
    threads,
    alloc(floats) {
      const at = top;
      top = Math.ceil((top + floats * 4) / 64) * 64;
      const grow = Math.ceil(top / 65536) - memory.buffer.byteLength / 65536;
      if (grow > 0) memory.grow(grow);
      new Float32Array(memory.buffer, at, floats).fill(0);
      return at;
    },
    write: (at, values) => new Float32Array(memory.buffer).set(values, at / 4),
    read: (at, count) => new Float32Array(memory.buffer, at, count).slice(),
    async run(steps) {
      if (steps.length > PLAN_BYTES / DESCRIPTOR_BYTES) throw new Error('too many steps for the harness plan');
      const words = new Int32Array(memory.buffer);
      steps.forEach((d, i) => writeDescriptor(words, PLAN + i * DESCRIPTOR_BYTES, d));
      const share = () => exports.run(PLAN, steps.length, 0, threads, 1);
      if (pool) await pool.run(PLAN, steps.length, threads, share);
      else share();
    },
    reset: () => void (top = HEAP),
    close: async () => void (await pool?.close()),
  };
}
