import { GraphError } from '../errors.js';
import { batchNormAffine, batchNormOf } from './kinds/batchnorm.js';
import { conv2dOf } from './kinds/conv2d.js';
import { layerNormOf } from './kinds/layernorm.js';
import { linearOf } from './kinds/linear.js';
import type { OpNode } from './op-graph.js';
import type { AnyStep } from './steps.js';

/** The largest finite float32: backends that compute in f32 store folded weights as such. */
const F32_MAX = 3.4028234663852886e38;

/**
 * One Linear (or Conv2d) of a step with its BatchNorms folded in, kept as scales of the original weight so
 * that the weight is scaled while it is packed, with no folded copy ever allocated:
 * W' = diag(rowScale) · W · diag(colScale).
 */
export interface FoldedPart {
  /** PyTorch's [out, in] layout; a conv's [out, in, kh, kw] read as [out, in·kh·kw]. */
  weight: ArrayLike<number>;
  /** in (a conv: in·kh·kw). */
  inFeatures: number;
  rowScale: Float64Array;
  /** null: every column scale is 1 (no BatchNorm before the Linear). */
  colScale: Float64Array | null;
}

/** A step as numbers a backend packs: steps.ts says how each is used. */
export interface FoldedStep {
  parts: FoldedPart[];
  /** [channels] (steps.ts): gemm and conv: the folded biases, summed over parts; layernorm: β (zeros without); elementwise and pool: zeros. */
  bias: Float64Array;
  /** [channels] when epilogue.affine. */
  scale: Float64Array | null;
  shift: Float64Array | null;
  /** layernorm: γ ([outFeatures]); null without (γ = 1) and for other kinds. */
  gamma: Float64Array | null;
}

/**
 * Folds a step's BatchNorms in float64 (JS arithmetic, so the only rounding is the backend's
 * final f32 store). For a Linear W, b with a BatchNorm (s₀, t₀) before it and (s₁, t₁) after it
 * (each BatchNorm as x · s + t, per channel):
 *   y = s₁ ⊙ (W · (s₀ ⊙ x + t₀) + b) + t₁ = diag(s₁) W diag(s₀) · x + s₁ ⊙ (W · t₀ + b) + t₁.
 * A Conv2d is the same with W as [out, in·kh·kw] and s₀, t₀ repeated over each input channel's
 * kh·kw taps: W · t₀ is then the shift times each kernel's sum, exact only without padding
 * (fuse.ts folds a BatchNorm before a conv only then).
 * `nodes` are the op graph's nodes, with the tensors of those the step names.
 */
export function foldStep(step: AnyStep, nodes: readonly OpNode[]): FoldedStep {
  const n = step.channels;
  const bias = new Float64Array(n);
  const parts = step.parts.map((p): FoldedPart => {
    const lin = headOf(nodes[p.linear]!);
    const k = lin.inFeatures;
    const pre = p.before === null ? null : taps(batchNormAffine(batchNormOf(nodes[p.before]!)), lin.taps);
    const post = p.after === null ? null : batchNormAffine(batchNormOf(nodes[p.after]!));
    const rowScale = post ? post.scale : new Float64Array(n).fill(1);
    for (let o = 0; o < n; o++) {
      let b = lin.bias ? lin.bias[o]! : 0;
      if (pre) for (let i = 0; i < k; i++) b += lin.weight[o * k + i]! * pre.shift[i]!;
      bias[o]! += post ? b * post.scale[o]! + post.shift[o]! : b;
    }
    const part = { weight: lin.weight, inFeatures: k, rowScale, colScale: pre?.scale ?? null };
    checkFloat32Range(nodes[p.linear]!, part, bias, [p.before, p.after].filter((x): x is number => x !== null).map((i) => nodes[i]!.name));
    return part;
  });
  let gamma: Float64Array | null = null;
  if (step.norm !== null) {
    const ln = layerNormOf(nodes[step.norm]!);
    if (ln.weight) gamma = Float64Array.from(ln.weight);
    if (ln.bias) bias.set(ln.bias);
  }
  const affine = step.affine === null ? null : batchNormAffine(batchNormOf(nodes[step.affine]!));
  return { parts, bias, scale: affine?.scale ?? null, shift: affine?.shift ?? null, gamma };
}

/** A linear or conv2d node as a matrix [out, inFeatures] (a conv's taps = kh·kw per input channel). */
function headOf(node: OpNode): { weight: ArrayLike<number>; bias: ArrayLike<number> | null; inFeatures: number; taps: number } {
  if (node.op !== 'conv2d') return { ...linearOf(node), taps: 1 };
  const cv = conv2dOf(node);
  const taps = cv.kernel[0] * cv.kernel[1];
  return { weight: cv.weight, bias: cv.bias, inFeatures: cv.inChannels * taps, taps };
}

/** A per-channel affine repeated over each channel's `n` consecutive weight columns. */
function taps(a: { scale: Float64Array; shift: Float64Array }, n: number): { scale: Float64Array; shift: Float64Array } {
  if (n === 1) return a;
  const spread = (v: Float64Array) => Float64Array.from({ length: v.length * n }, (_, i) => v[Math.floor(i / n)]!);
  return { scale: spread(a.scale), shift: spread(a.shift) };
}

/**
 * Folding may turn values PyTorch keeps in range (it applies BatchNorm after the linear, in f32)
 * into weights beyond float32 (a huge γ over a tiny variance): stored as f32 they would become
 * infinities, and Inf · 0 = NaN outputs PyTorch never gives. Refused instead. Values that were
 * already non-finite in the file stay as they are (they propagate as in PyTorch).
 */
function checkFloat32Range(linear: OpNode, part: FoldedPart, bias: Float64Array, batchNorms: string[]): void {
  if (batchNorms.length === 0) return;
  const { weight, inFeatures: k, rowScale, colScale } = part;
  const beyond = (v: number) => Number.isFinite(v) && Math.abs(v) > F32_MAX;
  for (let o = 0; o < rowScale.length; o++) {
    let largest = 0;
    for (let i = 0; i < k; i++) largest = Math.max(largest, Math.abs(weight[o * k + i]! * (colScale ? colScale[i]! : 1)));
    const w = largest * Math.abs(rowScale[o]!);
    if (!beyond(w) && !beyond(bias[o]!)) continue;
    throw new GraphError(
      `Folding BatchNorm "${batchNorms.join('", "')}" into "${linear.name}" gives output ${o} a ${beyond(w) ? `weight of ${w}` : `bias of ${bias[o]}`}, ` +
        `beyond float32's range (largest weight ${largest}, BatchNorm scale ${rowScale[o]}): the backends compute in float32 and ` +
        "would turn it into an infinity, and Inf · 0 into NaN. Check the layer's weights and the BatchNorm's weight and running_var, " +
        "or run on { backend: 'cpu' } (float64).",
    );
  }
}
