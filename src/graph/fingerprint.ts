import { forEachStepAsNodesArrive } from './arrival.js';
import { foldStep } from './fold.js';
import { fuseAnyGraph } from './fuse.js';
import type { OpGraph, OpNode } from './op-graph.js';
import type { AnyStep } from './steps.js';
import { release } from '../memory.js';

/**
 * A model's identity as it runs: SHA-256 over the fused steps' structure (kinds, epilogues,
 * shapes, windows) and their folded numbers as float32 (what an f32 backend computes with:
 * W · row scale · column scale in PyTorch's [out, in] order, then bias, scale, shift, γ). Names
 * are not part of it, so the same model agrees through .pt, the exporter's safetensors and ONNX,
 * in any key order; any changed weight or structure differs. Per step a digest, then one over
 * the structure and the steps' digests, so no copy of all weights is ever made at once.
 *
 * Each step is folded and hashed as soon as its tensors have arrived (as the backends pack
 * them), not after the last byte: that work then overlaps the download instead of lengthening
 * the load, and the numbers of every step go through one buffer, the size of the largest step's
 * (a buffer per step left up to 30 MB of garbage behind on a ResNet-50), let go of at the end.
 * Reusing it is safe: WebCrypto's digest() copies its input before it returns.
 */
export async function modelFingerprint(model: { shapes: Promise<OpGraph>; node(i: number): Promise<OpNode> }): Promise<string | null> {
  const graph = await model.shapes;
  const fused = fuseAnyGraph(graph);
  const numbers = new Float32Array(Math.max(0, ...fused.steps.map((s) => numbersLength(s, graph.nodes))));
  const digests = new Array<Promise<string | null>>(fused.steps.length);
  await forEachStepAsNodesArrive(model, fused, (step, nodes) => {
    digests[step.index] = sha256(stepNumbers(step, nodes, numbers)).catch(() => null);
  });
  const steps = await Promise.all(digests);
  release(numbers); // every digest is done
  if (steps.includes(null)) return null;
  const structure = {
    input: fused.values[0]!.shape,
    output: fused.values[fused.output]!.shape,
    steps: fused.steps.map((s) => ({
      kind: s.kind,
      epilogue: s.epilogue,
      values: [s.input, s.shortcut, s.output],
      shapes: [s.input, s.output].map((v) => fused.values[v]!.shape),
      features: [s.inFeatures, s.shortcutFeatures, s.outFeatures],
      eps: s.eps,
      windows: s.parts.map((p) => p.conv ?? null),
      pool: s.pool ?? null,
      // Only where there is one, so that the other steps' structure (and digest) stays as it was.
      ...(s.prologue && { prologue: s.prologue }),
    })),
    digests: steps,
  };
  const digest = await sha256(new TextEncoder().encode(JSON.stringify(structure)));
  return digest && `sha256:${digest}`;
}

/** At least as many numbers as stepNumbers writes for `step`, from the shapes alone: its weights, then four per channel at most. */
function numbersLength(step: AnyStep, nodes: readonly OpNode[]): number {
  const weights = step.parts.reduce((n, p) => n + nodes[p.linear]!.shapes.weight!.reduce((a, b) => a * b, 1), 0);
  return weights + 4 * step.channels;
}

/** The step's folded numbers, rounded to float32 as an f32 backend stores them, written into `into` (a view of it is returned). */
function stepNumbers(step: AnyStep, nodes: readonly OpNode[], into: Float32Array): Uint8Array {
  const f = foldStep(step, nodes);
  const length = f.parts.reduce((n, p) => n + p.rowScale.length * p.inFeatures, 0) + f.bias.length * 3 + (f.gamma?.length ?? 0);
  const out = into.subarray(0, length);
  let at = 0;
  for (const { weight, inFeatures: k, rowScale, colScale } of f.parts) {
    for (let o = 0; o < rowScale.length; o++) {
      for (let i = 0; i < k; i++) out[at++] = weight[o * k + i]! * rowScale[o]! * (colScale ? colScale[i]! : 1);
    }
  }
  for (const v of [f.bias, f.scale ?? new Float64Array(f.bias.length).fill(1), f.shift ?? new Float64Array(f.bias.length), f.gamma ?? []]) {
    out.set(v, at);
    at += v.length;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** Hex SHA-256 by WebCrypto; null where the platform offers none (a page served over plain http). */
export async function sha256(bytes: Uint8Array): Promise<string | null> {
  const subtle = (globalThis as { crypto?: Crypto }).crypto?.subtle;
  if (!subtle) return null;
  const digest = new Uint8Array(await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}
