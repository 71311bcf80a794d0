import body from '../../shaders/pool.wgsl?raw';
import { noWeights } from './elementwise.js';
import { kernelBindings, EPILOGUE_OVERRIDES, EPILOGUE_WGSL, epilogueConstants, epilogueRunData, SHAPE_UNIFORM } from './epilogue.js';
import type { KernelDef } from './kernel.js';

const WORKGROUP = [8, 8, 1] as const;
const POOL = { maxpool2d: 0, avgpool2d: 1, global_avgpool: 2 } as const;

/**
 * shaders/pool.wgsl: max, average and global average pooling of a channels-last image, one
 * invocation per output pixel and 4 channels, then the shared epilogue. The window is in
 * override constants, the image sizes in the Shape uniform.
 */
export const pool: KernelDef = {
  name: 'pool',
  stepKind: 'pool',
  precision: 'f32',
  file: 'shaders/pool.wgsl',
  shader: `${EPILOGUE_WGSL}\n${body}`,
  entryPoint: 'main',
  bindings: kernelBindings(),
  uniform: SHAPE_UNIFORM,
  overrides: [...EPILOGUE_OVERRIDES, 'POOL', 'KH', 'KW', 'SH', 'SW', 'PH', 'PW', 'DH', 'DW', 'COUNT_PAD'],
  workgroupSize: WORKGROUP,
  padding: { rows: 1, features: 4 },
  maxRows: Infinity,
  weights: noWeights,
  supports: () => true,
  constants(step) {
    const g = step.pool!;
    return {
      ...epilogueConstants(step),
      POOL: POOL[g.op],
      KH: g.kernel[0],
      KW: g.kernel[1],
      SH: g.stride[0],
      SW: g.stride[1],
      PH: g.padding[0],
      PW: g.padding[1],
      DH: g.dilation[0],
      DW: g.dilation[1],
      COUNT_PAD: g.countIncludePad ? 1 : 0,
    };
  },
  runData(step, layout) {
    const [, inH, inW] = layout.shapes[step.input]!;
    const [, outH, outW] = layout.shapes[step.output]!;
    const rows = layout.batch * outH! * outW!;
    const cols = layout.strides[step.output]!;
    const run = epilogueRunData(step, layout, rows, layout.strides[step.input]!);
    return {
      uniforms: { ...run.uniforms, in_h: inH!, in_w: inW!, out_h: outH!, out_w: outW! },
      bindings: run.bindings,
      workgroups: [Math.ceil(cols / 4 / WORKGROUP[0]), Math.ceil(rows / WORKGROUP[1]), 1],
    };
  },
};
