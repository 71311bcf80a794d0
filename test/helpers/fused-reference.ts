import { foldStep, type FoldedStep } from '../../src/graph/fold.js';
import { fuseAnyGraph } from '../../src/graph/fuse.js';
import { ACTIVATIONS } from '../../src/graph/kinds/activation.js';
import { KINDS } from '../../src/graph/kinds/registry.js';
import type { OpGraph } from '../../src/graph/op-graph.js';
import type { AnyStep } from '../../src/graph/steps.js';
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
  const round = (w: number) => (f16Weights ? fromHalf(halfBits(Math.fround(w))) : w);
  for (const step of fused.steps) {
    const f = foldStep(step, graph.nodes);
    const n = step.outFeatures;
    const a = values[step.input]!;
    const k = width(step.input);
    const acc = step.kind === 'conv' ? convAcc(step, f, values, fused.values.map((v) => v.shape), rows, round) : step.kind === 'pool' ? poolAcc(graph, step, a, fused.values[step.input]!.shape, rows) : new Float64Array(rows * n);
    // A mean prologue: the GEMM's left operand is each channel's mean over the image's pixels.
    const means = step.prologue === 'mean_pixels' ? meanPixels(a, fused.values[step.input]!.shape, rows) : null;
    // An image's epilogue is per channel: its columns are the channels, each over its pixels (NCHW).
    const pixels = n / step.channels;
    const y = new Float64Array(rows * n);
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
        let sum = acc[r * n + o]!;
        if (step.kind === 'gemm') {
          const inputs = [step.input, ...(step.epilogue.residual === 'projection' ? [step.shortcut!] : [])];
          f.parts.forEach((p, j) => {
            const src = j === 0 && means ? means : values[inputs[j]!]!;
            const kk = p.inFeatures;
            for (let i = 0; i < kk; i++) sum += src[r * kk + i]! * round(p.weight[o * kk + i]! * p.rowScale[o]! * (p.colScale ? p.colScale[i]! : 1));
          });
        } else if (step.kind === 'layernorm') {
          sum = (a[r * k + o]! - mean) * rstd * (f.gamma ? f.gamma[o]! : 1);
        } else if (step.kind === 'elementwise') {
          sum = a[r * k + o]!;
        }
        const c = Math.floor(o / pixels);
        let v = sum + f.bias[c]!;
        if (step.epilogue.residual === 'identity') v += values[step.shortcut!]![r * n + o]!;
        if (f.scale) v = v * f.scale[c]! + f.shift![c]!;
        y[r * n + o] = ACTIVATIONS[step.epilogue.activation.fn](v, step.epilogue.activation.slope);
      }
    }
    values.push(y);
  }
  return values[fused.output]!;
}

/** A conv step's sums, NCHW: each part (the main conv, the stacked projection) over its own input, zero-padded. */
function convAcc(step: AnyStep, f: FoldedStep, values: Float64Array[], shapes: number[][], rows: number, round: (w: number) => number): Float64Array {
  const [channels, outH, outW] = shapes[step.output]! as [number, number, number];
  const acc = new Float64Array(rows * channels * outH * outW);
  const inputs = [step.input, ...(step.epilogue.residual === 'projection' ? [step.shortcut!] : [])];
  step.parts.forEach((part, j) => {
    const { kernel, stride, padding, dilation } = part.conv!;
    const [cin, inH, inW] = shapes[inputs[j]!]! as [number, number, number];
    const src = values[inputs[j]!]!;
    const { weight, rowScale, colScale, inFeatures } = f.parts[j]!;
    for (let r = 0; r < rows; r++)
      for (let o = 0; o < channels; o++)
        for (let oy = 0; oy < outH; oy++)
          for (let ox = 0; ox < outW; ox++) {
            let sum = 0;
            for (let ci = 0; ci < cin; ci++)
              for (let ky = 0; ky < kernel[0]; ky++)
                for (let kx = 0; kx < kernel[1]; kx++) {
                  const iy = oy * stride[0] - padding[0] + ky * dilation[0];
                  const ix = ox * stride[1] - padding[1] + kx * dilation[1];
                  if (iy < 0 || iy >= inH || ix < 0 || ix >= inW) continue;
                  const col = (ci * kernel[0] + ky) * kernel[1] + kx;
                  sum += src[((r * cin + ci) * inH + iy) * inW + ix]! * round(weight[o * inFeatures + col]! * rowScale[o]! * (colScale ? colScale[col]! : 1));
                }
            acc[((r * channels + o) * outH + oy) * outW + ox]! += sum;
          }
  });
  return acc;
}

/** A pool step's values: its node's float64 reference (a pool has no weights to round). */
function poolAcc(graph: OpGraph, step: AnyStep, input: Float64Array, shape: number[], rows: number): Float64Array {
  const node = graph.nodes.find((nd) => step.nodes.includes(nd.name) && KINDS[nd.op] && nd.op === step.pool!.op)!;
  return KINDS[node.op]!.reference(node, [input], rows, [shape]);
}

/** Each channel's mean over its pixels, NCHW rows [C, H, W] → rows [C], summed in pixel order. */
function meanPixels(input: Float64Array, shape: number[], rows: number): Float64Array {
  const [c, h, w] = shape as [number, number, number];
  const plane = h * w;
  const out = new Float64Array(rows * c);
  for (let i = 0; i < rows * c; i++) {
    let sum = 0;
    for (let p = 0; p < plane; p++) sum += input[i * plane + p]!;
    out[i] = sum / plane;
  }
  return out;
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
