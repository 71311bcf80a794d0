import type { AnyStep } from '../graph/steps.js';
import type { WeightLayout } from './kernel.js';

/**
 * GEMM weights transposed to [inner, cols] and stacked along the inner dimension ([W ; Ws] for
 * a projection step), each part's rows padded to its input value's stride and columns to the
 * output's, zero filled, each weight scaled by its folded BatchNorms (fold.ts) as it is written.
 * An invocation then reads consecutive output columns of one inner row as vec4 loads, and
 * padded columns come out zero, which the next layer's padded inner rows multiply harmlessly.
 */
export const transposedWeights: WeightLayout = {
  name: 'transposed',
  followsPrecision: true,
  weightLength: (step, strides) => innerRows(step, strides) * strides[step.output]!,
  pack(step, strides, folded, out) {
    const cols = strides[step.output]!;
    const inputs = partInputs(step);
    out.fill(0);
    let row0 = 0;
    folded.parts.forEach(({ weight, inFeatures, rowScale, colScale }, j) => {
      for (let o = 0; o < step.outFeatures; o++) {
        const s = rowScale[o]!;
        if (colScale) for (let i = 0; i < inFeatures; i++) out[(row0 + i) * cols + o] = weight[o * inFeatures + i]! * s * colScale[i]!;
        else for (let i = 0; i < inFeatures; i++) out[(row0 + i) * cols + o] = weight[o * inFeatures + i]! * s;
      }
      row0 += strides[inputs[j]!]!;
    });
  },
};

/** The value each stacked part multiplies: the step's input, then the projection's shortcut. */
function partInputs(step: AnyStep): number[] {
  return step.epilogue.residual === 'projection' ? [step.input, step.shortcut!] : [step.input];
}

function innerRows(step: AnyStep, strides: readonly number[]): number {
  return partInputs(step).reduce((n, v) => n + strides[v]!, 0);
}
