import body from '../../shaders/elementwise.wgsl?raw';
import { kernelBindings, EPILOGUE_OVERRIDES, EPILOGUE_WGSL, epilogueConstants, epilogueRunData, SHAPE_UNIFORM } from './epilogue.js';
import type { KernelDef, WeightLayout } from './kernel.js';

/** Elementwise steps read no weights: only their epilogue parameters. */
export const noWeights: WeightLayout = { name: 'none', followsPrecision: false, weightLength: () => 0, pack: () => undefined };

const WORKGROUP = [8, 8, 1] as const;

/**
 * shaders/elementwise.wgsl: y = epilogue(a), for a BatchNorm, add or activation the fusion pass
 * could not put into a GEMM or LayerNorm step. One invocation per row and 4 columns.
 */
export const elementwise: KernelDef = {
  name: 'elementwise',
  stepKind: 'elementwise',
  precision: 'f32',
  file: 'shaders/elementwise.wgsl',
  shader: `${EPILOGUE_WGSL}\n${body}`,
  entryPoint: 'main',
  bindings: kernelBindings(),
  uniform: SHAPE_UNIFORM,
  overrides: EPILOGUE_OVERRIDES,
  workgroupSize: WORKGROUP,
  padding: { rows: 1, features: 4 },
  maxRows: Infinity,
  weights: noWeights,
  supports: () => true,
  constants: epilogueConstants,
  runData(step, layout) {
    const cols = layout.strides[step.output]!;
    // An image is batch·H·W pixel rows (channels-last); a row of features, the padded batch.
    const pixels = layout.pixels[step.output]!;
    const rows = pixels > 1 ? layout.batch * pixels : layout.rows;
    return { ...epilogueRunData(step, layout, rows, cols), workgroups: [Math.ceil(cols / 4 / WORKGROUP[0]), Math.ceil(rows / WORKGROUP[1]), 1] };
  },
};
