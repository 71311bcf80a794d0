import type { AnyStep } from '../graph/steps.js';
import type { WeightLayout } from './kernel.js';

/**
 * Convolution weights re-laid once at load as [kh, kw, in, out] rows (PyTorch's [out, in, kh, kw]
 * transposed), the input channels padded to the input value's channel stride and the output
 * channels to the output's, zero filled, each weight scaled by its folded BatchNorms (fold.ts) as
 * it is written; a projection's 1×1 weight [in_s, out] stacked below. Row (tap, channel) is then
 * one step of the implicit GEMM's inner dimension, and an invocation reads 4 consecutive output
 * channels of it as one vec4, as the dense kernels read the transposed layout. A 1×1 conv's
 * layout is exactly the dense kernels' transposed one.
 */
export const convWeights: WeightLayout = {
  name: 'conv',
  followsPrecision: true,
  weightLength: (step, strides) => partRows(step, strides).reduce((n, r) => n + r, 0) * strides[step.output]!,
  pack(step, strides, folded, out) {
    const cols = strides[step.output]!;
    const rows = partRows(step, strides);
    out.fill(0);
    let row0 = 0;
    folded.parts.forEach(({ weight, inFeatures, rowScale, colScale }, j) => {
      const [kh, kw] = step.parts[j]!.conv!.kernel;
      const taps = kh * kw;
      const channels = inFeatures / taps;
      const stride = rows[j]! / taps; // the input's padded channels
      for (let o = 0; o < step.channels; o++) {
        const s = rowScale[o]!;
        for (let ci = 0; ci < channels; ci++) {
          for (let t = 0; t < taps; t++) {
            const i = ci * taps + t; // PyTorch's [in, kh, kw] order within an output's row
            out[(row0 + t * stride + ci) * cols + o] = weight[o * inFeatures + i]! * s * (colScale ? colScale[i]! : 1);
          }
        }
      }
      row0 += rows[j]!;
    });
  },
};

/** Inner rows of each part: kh·kw taps of the padded channels of the value it reads (the input, then the shortcut). */
function partRows(step: AnyStep, strides: readonly number[]): number[] {
  const inputs = step.epilogue.residual === 'projection' ? [step.input, step.shortcut!] : [step.input];
  return step.parts.map((p, j) => p.conv!.kernel[0] * p.conv!.kernel[1] * strides[inputs[j]!]!);
}
