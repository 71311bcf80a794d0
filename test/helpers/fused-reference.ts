import { foldStep } from '../../src/graph/fold.js';
import { fuseAnyGraph } from '../../src/graph/fuse.js';
import { ACTIVATIONS } from '../../src/graph/kinds/activation.js';
import type { OpGraph } from '../../src/graph/op-graph.js';
import { halfBits } from '../../src/runtime/webgpu/half.js';

/**
 * The fused steps (graph/fuse.ts) computed in float64 from the folded numbers (graph/fold.ts),
 * in the steps' own order of operations: what the kernels compute, with exact arithmetic.
 * With `f16Weights`, each folded GEMM weight is rounded to f32 and then to f16 as the GPU's
 * packing does (halfBits, which test/half.test.ts checks bit for bit against PyTorch's .half()):
 * against it an f16 run has only f32 accumulation error left, so the usual GPU tolerance applies.
 * `graph` must hold its tensors (a completed stream).
 */
export function fusedForward(graph: OpGraph, x: ArrayLike<number>, rows: number, f16Weights = false): Float64Array {
  const fused = fuseAnyGraph(graph);
  const values: Float64Array[] = [Float64Array.from(x)];
  const width = (v: number) => fused.values[v]!.shape.reduce((a, b) => a * b, 1);
  for (const step of fused.steps) {
    const f = foldStep(step, graph.nodes);
    const n = step.outFeatures;
    const a = values[step.input]!;
    const k = width(step.input);
    const y = new Float64Array(rows * n);
    const round = (w: number) => (f16Weights ? fromHalf(halfBits(Math.fround(w))) : w);
    for (let r = 0; r < rows; r++) {
      let mean = 0;
      let rstd = 1;
      if (step.kind === 'layernorm') {
        for (let i = 0; i < k; i++) mean += a[r * k + i]!;
        mean /= k;
        let v = 0;
        for (let i = 0; i < k; i++) v += (a[r * k + i]! - mean) ** 2;
        rstd = 1 / Math.sqrt(v / k + step.eps);
      }
      for (let o = 0; o < n; o++) {
        let acc = 0;
        if (step.kind === 'gemm') {
          const inputs = [step.input, ...(step.epilogue.residual === 'projection' ? [step.shortcut!] : [])];
          f.parts.forEach((p, j) => {
            const src = values[inputs[j]!]!;
            const kk = p.inFeatures;
            for (let i = 0; i < kk; i++) acc += src[r * kk + i]! * round(p.weight[o * kk + i]! * p.rowScale[o]! * (p.colScale ? p.colScale[i]! : 1));
          });
        } else if (step.kind === 'layernorm') {
          acc = (a[r * k + o]! - mean) * rstd * (f.gamma ? f.gamma[o]! : 1);
        } else {
          acc = a[r * k + o]!;
        }
        let v = acc + f.bias[o]!;
        if (step.epilogue.residual === 'identity') v += values[step.shortcut!]![r * n + o]!;
        if (f.scale) v = v * f.scale[o]! + f.shift![o]!;
        y[r * n + o] = ACTIVATIONS[step.epilogue.activation.fn](v, step.epilogue.activation.slope);
      }
    }
    values.push(y);
  }
  return values[fused.output]!;
}

function fromHalf(h: number): number {
  const exponent = (h >> 10) & 0x1f;
  const magnitude = exponent === 0 ? (h & 0x3ff) * 2 ** -24 : exponent === 0x1f ? (h & 0x3ff ? NaN : Infinity) : (1 + (h & 0x3ff) / 1024) * 2 ** (exponent - 15);
  return h & 0x8000 ? -magnitude : magnitude;
}

/** The float64 reference of what precision: 'f16' computes (see fusedForward). */
export function halfWeightsForward(graph: OpGraph, x: ArrayLike<number>, rows: number): Float64Array {
  return fusedForward(graph, x, rows, true);
}
