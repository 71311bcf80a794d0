import type { Step } from '../graph/lower.js';
import type { PackPart, WeightLayout } from './kernel.js';

/**
 * Weights transposed to [inner, cols] and stacked along the inner dimension ([W ; Ws] for a
 * projection step), each part's rows padded to its input value's stride and columns to the
 * output's, zero filled; the bias is the parts' folded biases summed, padded to the output.
 * An invocation then reads consecutive output columns of one inner row as vec4 loads, and
 * padded columns come out zero, which the next layer's padded inner rows multiply harmlessly.
 */
export const transposedWeights: WeightLayout = {
  name: 'transposed',
  weightLength: (step, strides) => innerRows(step, strides) * strides[step.output]!,
  biasLength: (step, strides) => strides[step.output]!,
  pack(step, strides, parts, out, bias) {
    const cols = strides[step.output]!;
    const inputs = partInputs(step);
    out.fill(0);
    bias.fill(0);
    let row0 = 0;
    parts.forEach((part: PackPart, j) => {
      const { weight, inFeatures, rowScale } = part;
      for (let o = 0; o < step.outFeatures; o++) {
        const s = rowScale[o]!;
        for (let i = 0; i < inFeatures; i++) out[(row0 + i) * cols + o] = weight[o * inFeatures + i]! * s;
        bias[o]! += part.bias[o]!;
      }
      row0 += strides[inputs[j]!]!;
    });
  },
};

/** The value each stacked part multiplies: the step's input, then the projection's shortcut. */
function partInputs(step: Step): number[] {
  return step.epilogue.residual === 'projection' ? [step.input, step.shortcut!] : [step.input];
}

function innerRows(step: Step, strides: readonly number[]): number {
  return partInputs(step).reduce((n, v) => n + strides[v]!, 0);
}
