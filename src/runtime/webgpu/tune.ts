import type { AnyFusedModel, AnyStep } from '../../graph/steps.js';
import type { DeviceCaps, KernelDef, StepLayout } from '../../kernels/kernel.js';
import { UNIFORM_STRIDE } from '../../kernels/kernel.js';
import type { KernelVariant } from '../../kernels/registry.js';
import { withErrorScopes } from './error-scopes.js';
import { BufferUsage, MapMode } from './gpu-flags.js';
import { stepLayout, valueBytes } from './layout.js';
import type { CompiledKernels } from './pipelines.js';
import { bindDispatch, writeUniforms } from './plan.js';
import { candidates, ROW_ALIGN, tuningKey, type Selection } from './select.js';
import type { TuningCache } from './tuning-cache.js';
import type { UploadedWeights } from './weights.js';

/**
 * Measuring the candidate kernels of each step on the real shapes, the first time a batch size
 * is planned on a hardware adapter: each candidate runs the step (the model's own weights,
 * scratch activations) a few times in one pass, timed with timestamp queries where the device
 * has them and by wall time otherwise; the fastest is remembered per adapter and shape. Steps
 * of the same shape are measured once. A budget bounds the time spent measuring; steps left
 * unmeasured when it runs out keep the fixed rule (select.ts) until a later plan measures them.
 */
export interface Tuner {
  device: GPUDevice;
  caps: DeviceCaps;
  kernels: CompiledKernels;
  weights: UploadedWeights;
  selection: Selection & { measured: Map<string, KernelVariant> };
  cache: TuningCache;
  /** Identifies the adapter in cache keys. */
  adapterKey: string;
  /** Milliseconds of measuring allowed per batch size planned. */
  budgetMs: number;
}

/** Dispatches per timed trial, and trials per candidate (the best trial counts). */
const REPEATS = 4;
const TRIALS = 3;

export async function tuneBatch(t: Tuner, model: AnyFusedModel, strides: readonly number[], batch: number): Promise<void> {
  const rows = Math.ceil(batch / ROW_ALIGN) * ROW_ALIGN;
  // The budget bounds measuring; compiling is not counted: pipelines are shared per device and
  // compiled once, whether for measuring or for running.
  let spent = 0;
  const layout = stepLayout(model, strides, batch);
  for (const step of model.steps) {
    const key = tuningKey(step, rows, t.selection.precision);
    if (t.selection.measured.has(key)) continue;
    const cached = t.cache.get(`${t.adapterKey}|${key}`);
    if (cached) {
      t.selection.measured.set(key, cached);
      continue;
    }
    const options = candidates(step, t.caps, t.selection.precision, rows);
    if (options.length < 2 || spent > t.budgetMs) continue;
    await t.kernels.prepare(options.map((kernel) => ({ kernel, step })));
    const start = performance.now();
    const times = [];
    for (const kernel of options) times.push(await timeStep(t, step, kernel, layout));
    spent += performance.now() - start;
    const winner = options[times.indexOf(Math.min(...times))]!.name as KernelVariant;
    t.selection.measured.set(key, winner);
    t.cache.set(`${t.adapterKey}|${key}`, winner);
  }
}

/** The best of TRIALS timings of REPEATS dispatches of the step with this kernel, in ms per dispatch. */
async function timeStep(t: Tuner, step: AnyStep, kernel: KernelDef, sizes: StepLayout): Promise<number> {
  const { device } = t;
  const made: GPUBuffer[] = [];
  const buffer = (size: number, usage: number) => {
    const b = device.createBuffer({ label: `resgpu tuning ${step.label}`, size: Math.max(size, 16), usage });
    made.push(b);
    return b;
  };
  const timestamps = device.features.has('timestamp-query') ? device.createQuerySet({ type: 'timestamp', count: 2 }) : null;
  try {
    return await withErrorScopes(device, `measuring ${kernel.name} on ${step.label}`, async () => {
      const run = kernel.runData(step, sizes);
      const values = new Map<number, GPUBuffer>();
      const value = (v: number) => {
        if (!values.has(v)) values.set(v, buffer(valueBytes(sizes, v), BufferUsage.STORAGE));
        return { buffer: values.get(v)! };
      };
      const uniforms = buffer(UNIFORM_STRIDE, BufferUsage.UNIFORM | BufferUsage.COPY_DST);
      const fields = new Uint32Array(kernel.uniform.fields.length);
      writeUniforms(kernel, run, fields);
      device.queue.writeBuffer(uniforms, 0, fields);
      const { pipeline, layout } = t.kernels.get(kernel, step);
      const bindGroup = bindDispatch(device, kernel, step.label, run, layout, {
        uniform: { buffer: uniforms, offset: 0, size: fields.byteLength },
        value,
        weight: { buffer: t.weights.buffer, ...t.weights.ranges[step.index]!.weight },
        params: { buffer: t.weights.buffer, ...t.weights.ranges[step.index]!.params },
      });
      const resolve = timestamps && buffer(16, BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC);
      const readback = timestamps && buffer(16, BufferUsage.MAP_READ | BufferUsage.COPY_DST);
      let best = Infinity;
      for (let trial = 0; trial <= TRIALS; trial++) {
        const encoder = device.createCommandEncoder();
        const pass = encoder.beginComputePass(
          timestamps ? { timestampWrites: { querySet: timestamps, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {},
        );
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bindGroup);
        for (let i = 0; i < REPEATS; i++) pass.dispatchWorkgroups(...run.workgroups);
        pass.end();
        if (timestamps) {
          encoder.resolveQuerySet(timestamps, 0, 2, resolve!, 0);
          encoder.copyBufferToBuffer(resolve!, 0, readback!, 0, 16);
        }
        const t0 = performance.now();
        device.queue.submit([encoder.finish()]);
        let ms: number;
        if (readback) {
          await readback.mapAsync(MapMode.READ);
          const [begin, end] = new BigUint64Array(readback.getMappedRange());
          ms = Number(end! - begin!) / 1e6;
          readback.unmap();
        } else {
          await device.queue.onSubmittedWorkDone();
          ms = performance.now() - t0;
        }
        if (trial > 0) best = Math.min(best, ms / REPEATS); // trial 0 warms up
      }
      return best;
    });
  } finally {
    made.forEach((b) => b.destroy());
    timestamps?.destroy();
  }
}
