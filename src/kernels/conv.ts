import body from '../../shaders/conv.wgsl?raw';
import tile from '../../shaders/tile_4x8.wgsl?raw';
import type { AnyStep } from '../graph/steps.js';
import { convWeights } from './conv-weights.js';
import { WEIGHT_PRELUDE, type Precision } from './dense.js';
import { kernelBindings, EPILOGUE_OVERRIDES, EPILOGUE_WGSL, epilogueConstants, epilogueRunData, SHAPE_UNIFORM } from './epilogue.js';
import type { KernelBinding, KernelDef } from './kernel.js';

/**
 * shaders/conv.wgsl: a convolution (with its BatchNorms folded, and a downsample projection
 * stacked) as an implicit GEMM over channels-last images, with the gemm kernel's 4 × 8 register
 * tile: 4 output pixels × 8 output channels per invocation, no workgroup memory. The window is in
 * override constants (part of the pipeline key); the image sizes in the Shape uniform.
 */
const TILE_ROWS = 4;
const TILE_COLS = 8;
const WORKGROUP = [8, 8, 1] as const;

const BINDINGS = kernelBindings('w');

/** The window of the step's main conv, and the projection's stride. */
function windowConstants(step: AnyStep): Record<string, number> {
  const g = step.parts[0]!.conv!;
  const projection = step.parts[1]?.conv?.stride ?? [1, 1];
  return {
    KH: g.kernel[0],
    KW: g.kernel[1],
    SH: g.stride[0],
    SW: g.stride[1],
    PAD_TOP: g.padding[0],
    PAD_LEFT: g.padding[1],
    DH: g.dilation[0],
    DW: g.dilation[1],
    PSH: projection[0],
    PSW: projection[1],
  };
}

function convKernel(precision: Precision): KernelDef {
  return {
    name: 'conv',
    stepKind: 'conv',
    precision,
    file: 'shaders/conv.wgsl',
    shader: `${WEIGHT_PRELUDE[precision]}\n${EPILOGUE_WGSL}\n${tile}\n${body}`,
    entryPoint: 'main',
    bindings: BINDINGS,
    uniform: SHAPE_UNIFORM,
    overrides: [...EPILOGUE_OVERRIDES, 'WORKGROUP_X', 'WORKGROUP_Y', 'KH', 'KW', 'SH', 'SW', 'PAD_TOP', 'PAD_LEFT', 'DH', 'DW', 'PSH', 'PSW'],
    workgroupSize: WORKGROUP,
    // Whole tiles, unguarded within one: pixel rows by 4, channels by 8.
    padding: { rows: TILE_ROWS, features: TILE_COLS },
    maxRows: Infinity,
    weights: convWeights,
    supports: () => true,
    constants: (step) => ({ ...epilogueConstants(step), ...windowConstants(step) }),
    runData(step, layout) {
      const [, inH, inW] = layout.shapes[step.input]!;
      const [, outH, outW] = layout.shapes[step.output]!;
      const [, xH, xW] = step.epilogue.residual === 'projection' ? layout.shapes[step.shortcut!]! : [0, 1, 1];
      const rows = layout.batch * outH! * outW!;
      const run = epilogueRunData(step, layout, rows, layout.strides[step.input]!);
      return {
        uniforms: { ...run.uniforms, in_h: inH!, in_w: inW!, out_h: outH!, out_w: outW!, x_h: xH!, x_w: xW! },
        bindings: { ...run.bindings, w: { kind: 'weight' } },
        workgroups: [Math.ceil(layout.strides[step.output]! / TILE_COLS / WORKGROUP[0]), Math.ceil(rows / TILE_ROWS / WORKGROUP[1]), 1],
      };
    },
  };
}

export const convKernels = { f32: convKernel('f32'), f16: convKernel('f16') };
