import type { KernelName } from '../kernels/registry.js';
import type { BatchNormSpec, LinearSpec, ModelSpec } from '../spec.js';

/**
 * One dispatch of the gemm kernel, as the model needs it (logical, unpadded sizes), without
 * its weights: what plans are made from. Values are numbered: 0 is the model input, and
 * step i produces value i + 1.
 */
export interface GemmStepShape {
  kernel: KernelName;
  /** e.g. "blocks.0 (linear1 + bn1 + relu)". */
  label: string;
  /** Value read as the left operand. */
  a: number;
  /** Value read as the shortcut (identity add, or projection operand); null for plain linears. */
  x: number | null;
  inFeatures: number;
  /** Inner size of the projection done in the same dispatch; 0 without one. */
  shortcutFeatures: number;
  outFeatures: number;
}

/** A linear layer and the BatchNorm to fold into it. */
export interface DensePart {
  linear: LinearSpec;
  bn: BatchNormSpec | null;
}

export interface GemmStep extends GemmStepShape {
  /**
   * Weights stacked along the inner dimension, unfolded: [main] or [main, shortcut projection].
   * Folding waits until upload, one step at a time, so a whole folded copy never exists.
   */
  parts: DensePart[];
}

/**
 * Lowers a model to gemm dispatches: each residual block as exactly two
 * dispatches (linear1+relu, then linear2 + shortcut + add + relu), each plain layer as one.
 */
export function lowerModel(spec: ModelSpec): GemmStep[] {
  const steps: GemmStep[] = [];
  let current = 0;
  const push = (step: Omit<GemmStep, 'inFeatures' | 'shortcutFeatures' | 'outFeatures'>) => {
    const [main, shortcut] = step.parts;
    steps.push({
      ...step,
      inFeatures: main!.linear.inFeatures,
      shortcutFeatures: shortcut?.linear.inFeatures ?? 0,
      outFeatures: main!.linear.outFeatures,
    });
    return steps.length; // the value this step produces
  };
  for (const layer of spec.layers) {
    if (layer.type === 'linear') {
      const relu = layer.activation === 'relu';
      current = push({
        kernel: relu ? 'linear_relu' : 'linear',
        label: `${layer.name} (linear${layer.bn ? ' + bn' : ''}${relu ? ' + relu' : ''})`,
        a: current,
        x: null,
        parts: [{ linear: layer.linear, bn: layer.bn }],
      });
      continue;
    }
    const input = current;
    const hidden = push({
      kernel: 'linear_relu',
      label: `${layer.name} (linear1${layer.bn1 ? ' + bn1' : ''} + relu)`,
      a: input,
      x: null,
      parts: [{ linear: layer.linear1, bn: layer.bn1 }],
    });
    const sc = layer.shortcut;
    current = push({
      kernel: sc ? 'residual_projection' : 'residual_identity',
      label:
        `${layer.name} (linear2${layer.bn2 ? ' + bn2' : ''} + ` +
        `${sc ? `shortcut${sc.bn ? ' + bn' : ''}` : 'identity'} + add + relu)`,
      a: hidden,
      x: input,
      parts: sc
        ? [{ linear: layer.linear2, bn: layer.bn2 }, { linear: sc.linear, bn: sc.bn }]
        : [{ linear: layer.linear2, bn: layer.bn2 }],
    });
  }
  return steps;
}
