import body from '../../shaders/layernorm.wgsl?raw';
import { kernelBindings, EPILOGUE_OVERRIDES, EPILOGUE_WGSL, epilogueConstants, epilogueRunData, SHAPE_UNIFORM } from './epilogue.js';
import type { KernelDef, WeightLayout } from './kernel.js';

/** LayerNorm's γ, f32 at every precision (a row of numbers is no memory worth halving), padded with zeros; ones without γ. */
const gammaWeights: WeightLayout = {
  name: 'gamma',
  followsPrecision: false,
  weightLength: (step, strides) => strides[step.output]!,
  pack(step, _strides, folded, out) {
    out.fill(0);
    for (let o = 0; o < step.outFeatures; o++) out[o] = folded.gamma ? folded.gamma[o]! : 1;
  },
};

const WORKGROUP = 64;

/** shaders/layernorm.wgsl: one invocation per row (two passes over it), then the shared epilogue with β as its bias. */
export const layernorm: KernelDef = {
  name: 'layernorm',
  stepKind: 'layernorm',
  precision: 'f32',
  file: 'shaders/layernorm.wgsl',
  shader: `${EPILOGUE_WGSL}\n${body}`,
  entryPoint: 'main',
  bindings: kernelBindings('gamma'),
  uniform: SHAPE_UNIFORM,
  overrides: [...EPILOGUE_OVERRIDES, 'EPS'],
  workgroupSize: [WORKGROUP, 1, 1],
  padding: { rows: 1, features: 4 },
  maxRows: Infinity,
  weights: gammaWeights,
  supports: () => true,
  constants: (step) => ({ ...epilogueConstants(step), EPS: step.eps }),
  runData(step, layout) {
    const run = epilogueRunData(step, layout, layout.rows, layout.strides[step.input]!);
    return { ...run, bindings: { ...run.bindings, gamma: { kind: 'weight' } }, workgroups: [Math.ceil(layout.rows / WORKGROUP), 1, 1] };
  },
};
