import type { FoldedStep } from '../../graph/fold.js';
import type { Step } from '../../graph/steps.js';
import { EPILOGUE_PANEL_BYTES } from './descriptor.js';
import { PANEL, type PackedStepLayout } from './layout.js';

/**
 * Writes a step's folded numbers (graph/fold.ts, float64) straight into the WebAssembly memory
 * in the kernels' layout (gemm.wat's header), rounding each to f32 once:
 *  - gemm: for each panel of 8 output columns, for each inner index k (the main part, then the
 *    projection part), those 8 columns' weights W' = diag(rowScale) · W · diag(colScale);
 *  - layernorm: γ (1 without), padded to panels;
 *  - every kind: per panel, its 8 columns' bias, scale and shift (scale and shift only with
 *    epilogue.affine). An elementwise step's zero bias is stored as −0, the addend that leaves
 *    every float as it is (relu(−0) stays −0, as in PyTorch).
 * Padding columns are zero, so a GEMM computes zeros there (the kernels write them as zeros anyway).
 */
export function packStep(memory: Float32Array, step: Step, folded: FoldedStep, layout: PackedStepLayout): void {
  const n = step.outFeatures;
  const weights = layout.weights / 4;
  if (step.kind === 'gemm') {
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
    vectors[at] = bias === 0 && step.kind === 'elementwise' ? -0 : bias;
    if (folded.scale) vectors[at + PANEL] = folded.scale[o]!;
    if (folded.shift) vectors[at + 2 * PANEL] = folded.shift[o]!;
  }
}
