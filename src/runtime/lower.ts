import type { KernelName } from '../kernels/registry.js';
import type { ModelSpec } from '../spec.js';
import { foldBatchNorm, type FoldedLinear } from './fold.js';

/**
 * One dispatch of the gemm kernel, as the model needs it (logical, unpadded sizes).
 * Values are numbered: 0 is the model input, and step i produces value i + 1.
 */
export interface GemmStep {
  kernel: KernelName;
  /** e.g. "blocks.0 (linear1 + bn1 + relu)". */
  label: string;
  /** Value read as the left operand. */
  a: number;
  /** Value read as the shortcut (identity add, or projection operand); null for plain linears. */
  x: number | null;
  /** Weights stacked along the inner dimension: [main] or [main, shortcut projection]. */
  parts: FoldedLinear[];
  /** Bias of the dispatch (the parts' biases summed). */
  bias: Float64Array;
  outFeatures: number;
}

/**
 * Lowers a model to gemm dispatches: BatchNorms folded, each residual block as exactly two
 * dispatches (linear1+relu, then linear2 + shortcut + add + relu), each plain layer as one.
 */
export function lowerModel(spec: ModelSpec): GemmStep[] {
  const steps: GemmStep[] = [];
  let current = 0;
  const push = (step: Omit<GemmStep, 'bias' | 'outFeatures'>) => {
    const bias = new Float64Array(step.parts[0]!.outFeatures);
    for (const p of step.parts) for (let o = 0; o < bias.length; o++) bias[o]! += p.bias[o]!;
    steps.push({ ...step, bias, outFeatures: bias.length });
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
        parts: [foldBatchNorm(layer.linear, layer.bn)],
      });
      continue;
    }
    const input = current;
    const hidden = push({
      kernel: 'linear_relu',
      label: `${layer.name} (linear1${layer.bn1 ? ' + bn1' : ''} + relu)`,
      a: input,
      x: null,
      parts: [foldBatchNorm(layer.linear1, layer.bn1)],
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
        ? [foldBatchNorm(layer.linear2, layer.bn2), foldBatchNorm(sc.linear, sc.bn)]
        : [foldBatchNorm(layer.linear2, layer.bn2)],
    });
  }
  return steps;
}
