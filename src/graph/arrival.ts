import { densePart, layersOf, type DensePart, type LoweredModel, type Step } from './lower.js';
import type { LayerSpec } from './spec.js';
import type { StreamedModel } from './stream.js';

/**
 * Hands each step of the lowered model to `visit`, with its weights (unfolded), as soon as every
 * layer its weights come from has arrived; lets go of each layer (the file's bytes) once every
 * step that reads it has been visited. How every backend packs weights while a file streams.
 */
export async function forEachStepAsLayersArrive(
  model: StreamedModel,
  lowered: LoweredModel,
  visit: (step: Step, parts: DensePart[]) => void,
): Promise<void> {
  const layerCount = Math.max(0, ...lowered.steps.flatMap(layersOf).map((l) => l + 1));
  const arrived: LayerSpec[] = [];
  const readers = new Array<number>(layerCount).fill(0);
  lowered.steps.forEach((s) => layersOf(s).forEach((l) => readers[l]!++));
  const waiting = new Set(lowered.steps.keys());
  for (let i = 0; i < layerCount; i++) {
    arrived[i] = await model.layer(i);
    for (const index of waiting) {
      const step = lowered.steps[index]!;
      if (!layersOf(step).every((l) => arrived[l])) continue;
      visit(step, step.weights.map((ref) => densePart(arrived[ref.layer]!, ref.part)));
      waiting.delete(index);
      for (const l of layersOf(step)) if (--readers[l]! === 0) delete arrived[l];
    }
  }
}
