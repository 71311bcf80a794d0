import { foldStep } from './fold.js';
import { fuseAnyGraph } from './fuse.js';
import type { OpGraph } from './op-graph.js';
import type { AnyStep } from './steps.js';

/**
 * A model's identity as it runs: SHA-256 over the fused steps' structure (kinds, epilogues,
 * shapes, windows) and their folded numbers as float32 (what an f32 backend computes with:
 * W · row scale · column scale in PyTorch's [out, in] order, then bias, scale, shift, γ). Names
 * are not part of it, so the same model agrees through .pt, the exporter's safetensors and ONNX,
 * in any key order; any changed weight or structure differs. Per step a digest, then one over
 * the structure and the steps' digests, so no copy of all weights is ever made at once.
 */
export async function modelFingerprint(graph: OpGraph): Promise<string | null> {
  const fused = fuseAnyGraph(graph);
  const digests: string[] = [];
  for (const step of fused.steps) {
    const d = await sha256(stepNumbers(step, graph));
    if (d === null) return null;
    digests.push(d);
  }
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
    digests,
  };
  const digest = await sha256(new TextEncoder().encode(JSON.stringify(structure)));
  return digest && `sha256:${digest}`;
}

/** The step's folded numbers, rounded to float32 as an f32 backend stores them. */
function stepNumbers(step: AnyStep, graph: OpGraph): Uint8Array {
  const f = foldStep(step, graph.nodes);
  const lengths = f.parts.reduce((n, p) => n + p.rowScale.length * p.inFeatures, 0) + f.bias.length * 3 + (f.gamma?.length ?? 0);
  const out = new Float32Array(lengths);
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
  return new Uint8Array(out.buffer);
}

/** Hex SHA-256 by WebCrypto; null where the platform offers none (a page served over plain http). */
export async function sha256(bytes: Uint8Array): Promise<string | null> {
  const subtle = (globalThis as { crypto?: Crypto }).crypto?.subtle;
  if (!subtle) return null;
  const digest = new Uint8Array(await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}
