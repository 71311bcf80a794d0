import body from '../../shaders/gemm_mean.wgsl?raw';
import { WEIGHT_PRELUDE, type Precision } from './dense.js';
import { kernelBindings, EPILOGUE_OVERRIDES, EPILOGUE_WGSL, epilogueConstants, epilogueRunData, SHAPE_UNIFORM } from './epilogue.js';
import type { KernelDef } from './kernel.js';
import { transposedWeights } from './transposed-weights.js';

const GROUP = 64;

/**
 * shaders/gemm_mean.wgsl: the gemm step with a mean prologue (global average pooling, then the
 * Linear), one workgroup per batch row and 64 vec4s of columns. The only kernel that runs such a
 * step, and it runs no other: the dense GEMM kernels read a row of features, not an image. It
 * reads the weights every GEMM kernel reads (the transposed layout, at the model's precision);
 * the image sizes travel in the Shape uniform as for the pool kernel.
 */
function gemmMean(precision: Precision): KernelDef {
  return {
    name: 'gemm_mean',
    stepKind: 'gemm',
    precision,
    file: 'shaders/gemm_mean.wgsl',
    shader: `${WEIGHT_PRELUDE[precision]}\n${EPILOGUE_WGSL}\n${body}`,
    entryPoint: 'main',
    bindings: kernelBindings('w'),
    uniform: SHAPE_UNIFORM,
    overrides: EPILOGUE_OVERRIDES,
    workgroupSize: [GROUP, 1, 1],
    // It reads the image's pixel rows of `inner` channels as vec4s and writes whole vec4s.
    padding: { rows: 1, features: 4 },
    maxRows: Infinity,
    weights: transposedWeights,
    supports: (step) => step.prologue === 'mean_pixels',
    constants: epilogueConstants,
    runData(step, layout) {
      const [, inH = 1, inW = 1] = layout.shapes[step.input]!;
      const { uniforms, bindings } = epilogueRunData(step, layout, layout.batch, layout.strides[step.input]!);
      const cols4 = layout.strides[step.output]! / 4;
      return {
        uniforms: { ...uniforms, in_h: inH, in_w: inW },
        bindings: { ...bindings, w: { kind: 'weight' } },
        // The padded rows past the batch are not written, as the pool kernel leaves them.
        workgroups: [Math.ceil(cols4 / GROUP), layout.batch, 1],
      };
    },
  };
}

export const gemmMeanKernels = { f32: gemmMean('f32'), f16: gemmMean('f16') };
