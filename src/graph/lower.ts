import type { BatchNormSpec, LayerSpec, LinearSpec, ModelSpec } from './spec.js';

/**
 * The one lowering: a model becomes fused steps, each a GEMM with an epilogue, reading and
 * writing numbered values. Done once per model, from shapes alone (weights may still be
 * downloading); steps name their weights by what they are (`{ layer, part }`), never by
 * position, so a backend finds each step's weights in whichever layer holds them.
 *
 * Every residual block is exactly two steps (linear1 + ReLU, then linear2 + shortcut + add +
 * ReLU, with a projection shortcut stacked along the inner dimension); each plain layer is one.
 */

/** Which linear of a layer (with the BatchNorm after it) a weight is. */
export type WeightPart = 'linear' | 'linear1' | 'linear2' | 'shortcut';

export interface WeightRef {
  /** Index into ModelSpec.layers. */
  layer: number;
  part: WeightPart;
}

/** What a step does after its GEMM: add the bias, then the residual, then maybe ReLU. */
export interface Epilogue {
  relu: boolean;
  /**
   * 'identity': add the value `shortcut` (same width as the output);
   * 'projection': `shortcut` is a second left operand, multiplied by the step's second weight
   * in the same GEMM (`[input | shortcut] · [W ; Ws]`), both biases summed.
   */
  residual: 'none' | 'identity' | 'projection';
}

/** The name of a step's fused operation, as describe() reports it. */
export type StepOp = 'linear' | 'linear_relu' | 'residual_identity' | 'residual_projection';

export interface Step {
  /** Position in LoweredModel.steps. */
  index: number;
  op: StepOp;
  /** e.g. "blocks.0 (linear1 + bn1 + relu)". */
  label: string;
  /** Value read as the GEMM's left operand. */
  input: number;
  /** Value the residual reads; null when there is none. */
  shortcut: number | null;
  /** Value written. */
  output: number;
  /** The GEMM's weights, stacked along the inner dimension in this order: [main] or [main, projection]. */
  weights: WeightRef[];
  epilogue: Epilogue;
  inFeatures: number;
  /** Inner size of the projection done in the same step; 0 without one. */
  shortcutFeatures: number;
  outFeatures: number;
}

export interface ValueInfo {
  /** Shape of one row: [features] for the dense models of today. */
  shape: number[];
}

export interface LoweredModel {
  /** Value 0 is the model input; the last value is the model output. */
  values: ValueInfo[];
  steps: Step[];
}

/** A linear layer and the BatchNorm to fold into it. */
export interface DensePart {
  linear: LinearSpec;
  bn: BatchNormSpec | null;
}

/** The linear (and its BatchNorm) a reference names, in a layer whose data has arrived. */
export function densePart(layer: LayerSpec, part: WeightPart): DensePart {
  if (layer.type === 'linear' && part === 'linear') return { linear: layer.linear, bn: layer.bn };
  if (layer.type === 'residual_block') {
    if (part === 'linear1') return { linear: layer.linear1, bn: layer.bn1 };
    if (part === 'linear2') return { linear: layer.linear2, bn: layer.bn2 };
    if (part === 'shortcut' && layer.shortcut) return layer.shortcut;
  }
  throw new Error(`resgpu bug: layer ${layer.name} has no weight part ${part}`);
}

export function lowerModel(spec: ModelSpec): LoweredModel {
  const values: ValueInfo[] = [{ shape: [spec.inputSize] }];
  const steps: Step[] = [];
  const push = (step: Omit<Step, 'index' | 'output' | 'op' | 'inFeatures' | 'shortcutFeatures' | 'outFeatures'>, layer: LayerSpec) => {
    const [main, projection] = step.weights.map((w) => densePart(layer, w.part).linear);
    const { relu, residual } = step.epilogue;
    const op: StepOp = residual === 'none' ? (relu ? 'linear_relu' : 'linear') : `residual_${residual}`;
    values.push({ shape: [main!.outFeatures] });
    steps.push({
      ...step,
      index: steps.length,
      op,
      output: values.length - 1,
      inFeatures: main!.inFeatures,
      shortcutFeatures: projection?.inFeatures ?? 0,
      outFeatures: main!.outFeatures,
    });
    return values.length - 1;
  };
  let current = 0;
  spec.layers.forEach((layer, index) => {
    if (layer.type === 'linear') {
      const relu = layer.activation === 'relu';
      current = push(
        {
          label: `${layer.name} (linear${layer.bn ? ' + bn' : ''}${relu ? ' + relu' : ''})`,
          input: current,
          shortcut: null,
          weights: [{ layer: index, part: 'linear' }],
          epilogue: { relu, residual: 'none' },
        },
        layer,
      );
      return;
    }
    const blockInput = current;
    const hidden = push(
      {
        label: `${layer.name} (linear1${layer.bn1 ? ' + bn1' : ''} + relu)`,
        input: blockInput,
        shortcut: null,
        weights: [{ layer: index, part: 'linear1' }],
        epilogue: { relu: true, residual: 'none' },
      },
      layer,
    );
    const sc = layer.shortcut;
    current = push(
      {
        label:
          `${layer.name} (linear2${layer.bn2 ? ' + bn2' : ''} + ` +
          `${sc ? `shortcut${sc.bn ? ' + bn' : ''}` : 'identity'} + add + relu)`,
        input: hidden,
        shortcut: blockInput,
        weights: sc ? [{ layer: index, part: 'linear2' }, { layer: index, part: 'shortcut' }] : [{ layer: index, part: 'linear2' }],
        epilogue: { relu: true, residual: sc ? 'projection' : 'identity' },
      },
      layer,
    );
  });
  return { values, steps };
}

/** The layers a step's weights come from: it can be folded and packed once all have arrived. */
export function layersOf(step: Step): number[] {
  return [...new Set(step.weights.map((w) => w.layer))];
}
