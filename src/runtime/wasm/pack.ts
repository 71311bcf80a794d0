import { foldBatchNorm } from '../../graph/fold.js';
import type { DensePart, Step } from '../../graph/lower.js';
import { EPILOGUE_PANEL_BYTES } from './descriptor.js';
import { PANEL, type PackedStepLayout } from './layout.js';

/**
 * Folds a step's BatchNorms (float64, as on WebGPU) and writes its weights straight into the
 * WebAssembly memory in the micro-kernels' layout: for each panel of 8 output columns, for each
 * inner index k (the main part, then the projection part), those 8 columns' weights. The bias
 * (the parts' folded biases summed) goes in the first 8 floats of each panel's epilogue vectors;
 * scale and shift are unused (no affine). Padding columns are zero, so they compute zeros.
 */
export function packStep(memory: Float32Array, step: Step, parts: readonly DensePart[], layout: PackedStepLayout): void {
  const inner = step.inFeatures + step.shortcutFeatures;
  const panelFloats = inner * PANEL;
  const weights = layout.weights / 4;
  memory.fill(0, weights, weights + layout.panels * panelFloats);
  const panelVectors = EPILOGUE_PANEL_BYTES / 4;
  const vectors = memory.subarray(layout.epilogue / 4, layout.epilogue / 4 + layout.panels * panelVectors).fill(0);
  let k0 = 0;
  for (const { linear, bn } of parts) {
    const folded = foldBatchNorm(linear, bn);
    const k = linear.inFeatures;
    for (let o = 0; o < step.outFeatures; o++) {
      const s = folded.scale[o]!;
      const src = o * k;
      let dst = weights + Math.floor(o / PANEL) * panelFloats + k0 * PANEL + (o % PANEL);
      for (let i = 0; i < k; i++, dst += PANEL) memory[dst] = linear.weight[src + i]! * s;
      vectors[Math.floor(o / PANEL) * panelVectors + (o % PANEL)]! += folded.bias[o]!;
    }
    k0 += k;
  }
}
