import type { FoldedStep } from '../../graph/fold.js';
import type { Step } from '../../graph/steps.js';
import { PANEL, type PackedStepLayout } from './layout.js';

/**
 * Folds a step's BatchNorms (float64, as on WebGPU) and writes its weights straight into the
 * WebAssembly memory in the micro-kernels' layout: for each panel of 8 output columns, for each
 * inner index k (the main part, then the projection part), those 8 columns' weights. The bias
 * is the parts' folded biases summed. Padding columns are zero, so they compute zeros.
 */
export function packStep(memory: Float32Array, step: Step, folded: FoldedStep, layout: PackedStepLayout): void {
  const inner = step.inFeatures + step.shortcutFeatures;
  const panelFloats = inner * PANEL;
  const weights = layout.weights / 4;
  memory.fill(0, weights, weights + layout.panels * panelFloats);
  const bias = memory.subarray(layout.bias / 4, layout.bias / 4 + layout.panels * PANEL).fill(0);
  for (let o = 0; o < step.outFeatures; o++) bias[o] = folded.bias[o]!;
  let k0 = 0;
  for (const { weight, inFeatures: k, rowScale, colScale } of folded.parts) {
    for (let o = 0; o < step.outFeatures; o++) {
      const s = rowScale[o]!;
      const src = o * k;
      let dst = weights + Math.floor(o / PANEL) * panelFloats + k0 * PANEL + (o % PANEL);
      for (let i = 0; i < k; i++, dst += PANEL) memory[dst] = weight[src + i]! * s * (colScale ? colScale[i]! : 1);
    }
    k0 += k;
  }
}
