import type { FoldedPart, FoldedStep } from '../../graph/fold.js';
import type { AnyFusedModel, AnyStep } from '../../graph/steps.js';
import { EPILOGUE_PANEL_BYTES } from './descriptor.js';
import { convSegments } from './geometry.js';
import { meanPanels, PANEL, type PackedStepLayout } from './layout.js';

/**
 * Writes a step's folded numbers (graph/fold.ts, float64) straight into the WebAssembly memory
 * in the kernels' layout (gemm.wat's header), rounding each to f32 once:
 *  - gemm: for each panel of 8 output columns, for each inner index k (the main part, then the
 *    projection part), those 8 columns' weights W' = diag(rowScale) · W · diag(colScale);
 *  - conv: the same panels of 8 output channels, k running over the taps (kh, kw) and within a
 *    tap over the input's padded channels (image.wat's segments), then the projection's padded
 *    channels; padding channels hold zeros (a compact conv, geometry.ts: the real channels only);
 *  - layernorm: γ (1 without), padded to panels;
 *  - every kind: per panel, its 8 columns' bias, scale and shift (scale and shift only with
 *    epilogue.affine). An elementwise step's zero bias is stored as −0, the addend that leaves
 *    every float as it is (relu(−0) stays −0, as in PyTorch).
 * Padding columns are zero, so a GEMM computes zeros there (the kernels write them as zeros anyway).
 */
export function packStep(memory: Float32Array, model: AnyFusedModel, step: AnyStep, folded: FoldedStep, layout: PackedStepLayout): void {
  const n = step.channels;
  const weights = layout.weights / 4;
  if (step.kind === 'conv') {
    packConv(memory, model, step, folded, layout);
  } else if (step.kind === 'gemm') {
    const panelFloats = (step.inFeatures + step.shortcutFeatures) * PANEL;
    memory.fill(0, weights, weights + layout.panels * panelFloats);
    let k0 = 0;
    for (const { weight, inFeatures: k, rowScale, colScale } of folded.parts) {
      for (let o = 0; o < n; o++) {
        const s = rowScale[o]!;
        const src = o * k;
        let dst = weights + Math.floor(o / PANEL) * panelFloats + k0 * PANEL + (o % PANEL);
        if (colScale) for (let i = 0; i < k; i++, dst += PANEL) memory[dst] = weight[src + i]! * s * colScale[i]!;
        else for (let i = 0; i < k; i++, dst += PANEL) memory[dst] = weight[src + i]! * s;
      }
      k0 += k;
    }
  } else if (step.kind === 'layernorm') {
    const gamma = memory.subarray(weights, weights + layout.panels * PANEL).fill(0);
    for (let o = 0; o < n; o++) gamma[o] = folded.gamma ? folded.gamma[o]! : 1;
  }
  const perPanel = EPILOGUE_PANEL_BYTES / 4;
  const vectors = memory.subarray(layout.epilogue / 4, layout.epilogue / 4 + layout.panels * perPanel).fill(0);
  for (let o = 0; o < n; o++) {
    const at = Math.floor(o / PANEL) * perPanel + (o % PANEL);
    const bias = folded.bias[o]!;
    vectors[at] = bias === 0 && (step.kind === 'elementwise' || step.kind === 'pool') ? -0 : bias;
    if (folded.scale) vectors[at + PANEL] = folded.scale[o]!;
    if (folded.shift) vectors[at + 2 * PANEL] = folded.shift[o]!;
  }
  // A mean prologue's own epilogue vectors (layout.ts): −0 biases, so that each mean comes out as it is (−0 included).
  if (layout.prologue) memory.fill(-0, layout.prologue / 4, layout.prologue / 4 + (meanPanels(model, step) * EPILOGUE_PANEL_BYTES) / 4);
}

/**
 * A conv step's panels: PyTorch's [out, in, kh, kw] (read as [out, in·kh·kw]) to k = (tap, channel),
 * then a projection's channels; a Winograd conv's main part as its 16 transformed taps instead.
 */
function packConv(memory: Float32Array, model: AnyFusedModel, step: AnyStep, folded: FoldedStep, layout: PackedStepLayout): void {
  const { taps, k1, k2, channels: c, compact } = convSegments(model, step, layout.winograd);
  const panelFloats = (taps * k1 + k2) * PANEL;
  const windowTaps = compact ? k1 / c : taps;
  const weights = layout.weights / 4;
  memory.fill(0, weights, weights + layout.panels * panelFloats);
  folded.parts.forEach(({ weight, inFeatures, rowScale, colScale }, j) => {
    if (j === 0 && layout.winograd) return packWinogradTaps(memory, weights, panelFloats, k1, step.channels, folded.parts[0]!);
    const partTaps = j === 0 ? windowTaps : 1; // a projection is 1×1
    // Where tap t's channels start: every k1 floats, or every C in a compact row.
    const [k0, stride] = j === 0 ? [0, compact ? c : k1] : [taps * k1, k2];
    const channels = inFeatures / partTaps;
    for (let o = 0; o < step.channels; o++) {
      const s = rowScale[o]!;
      const panel = weights + Math.floor(o / PANEL) * panelFloats + (o % PANEL);
      for (let ci = 0; ci < channels; ci++) {
        for (let t = 0; t < partTaps; t++) {
          const i = ci * partTaps + t; // PyTorch's [in, kh, kw] order within an output's row
          memory[panel + (k0 + t * stride + ci) * PANEL] = weight[o * inFeatures + i]! * s * (colScale ? colScale[i]! : 1);
        }
      }
    }
  });
}

/**
 * A Winograd F(2×2, 3×3) conv's main part (winograd.wat): per output channel o and input channel
 * c, the 3×3 kernel g becomes U = G·g·Gᵀ (4×4, G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]), computed in
 * float64 and rounded once; U's entry ξ = 4·row + column is "tap" ξ of the direct layout: in o's
 * panel at k = ξ·k1 + c (a projection's channels follow the 16 taps, as they follow a direct
 * conv's).
 */
function packWinogradTaps(memory: Float32Array, weights: number, panelFloats: number, k1: number, channels: number, part: FoldedPart): void {
  const { weight, inFeatures, rowScale, colScale } = part;
  const g = new Float64Array(9); // g[3·kh + kw]
  const gg = new Float64Array(12); // G·g, 4 × 3
  // G applied to the 3 values (a, b, e): G·[a b e]ᵀ.
  const expand = (a: number, b: number, e: number) => [a, (a + b + e) / 2, (a - b + e) / 2, e];
  for (let o = 0; o < channels; o++) {
    const panel = weights + Math.floor(o / PANEL) * panelFloats + (o % PANEL);
    for (let c = 0; c < inFeatures / 9; c++) {
      for (let t = 0; t < 9; t++) {
        const i = c * 9 + t;
        g[t] = weight[o * inFeatures + i]! * rowScale[o]! * (colScale ? colScale[i]! : 1);
      }
      for (let j = 0; j < 3; j++) expand(g[j]!, g[3 + j]!, g[6 + j]!).forEach((v, r) => (gg[r * 3 + j] = v));
      for (let r = 0; r < 4; r++) {
        expand(gg[r * 3]!, gg[r * 3 + 1]!, gg[r * 3 + 2]!).forEach((v, j) => (memory[panel + ((4 * r + j) * k1 + c) * PANEL] = v));
      }
    }
  }
}
