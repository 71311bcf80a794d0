import body from '../../shaders/elementwise.wgsl?raw';
import { EPILOGUE_BINDINGS, EPILOGUE_OVERRIDES, EPILOGUE_WGSL, epilogueConstants, epilogueRunData, SHAPE_UNIFORM } from './epilogue.js';
import type { KernelDef, WeightLayout } from './kernel.js';

/** Elementwise steps read no weights: only their epilogue parameters. */
const noWeights: WeightLayout = { name: 'none', followsPrecision: false, weightLength: () => 0, pack: () => undefined };

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
  bindings: [
    ...EPILOGUE_BINDINGS,
    { name: 'a', binding: 1, type: 'read-only-storage' as const },
    { name: 'y', binding: 5, type: 'storage' as const },
  ].sort((p, q) => p.binding - q.binding),
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
    return { ...epilogueRunData(step, layout, layout.rows, cols), workgroups: [Math.ceil(cols / 4 / WORKGROUP[0]), Math.ceil(layout.rows / WORKGROUP[1]), 1] };
  },
};
