import { onlyAttrs, type NodeKind } from './kind.js';
import { checkOutput, imageShape } from './spatial.js';

/**
 * Adaptive average pooling to 1×1 (torch.nn.AdaptiveAvgPool2d((1, 1)), ONNX GlobalAveragePool):
 * the mean of each channel's H × W plane. [C, H, W] → [C, 1, 1].
 */
export const globalAvgpool: NodeKind = {
  op: 'global_avgpool',
  title: 'GlobalAvgPool',
  arity: 1,
  params: { required: [], optional: [] },
  attrs(raw) {
    onlyAttrs(raw, []);
    return {};
  },
  shapes: (q) => ({ output: checkOutput(q, [imageShape(q)[0], 1, 1]), params: {} }),
  reference(_, [x], rows, [shape]) {
    const [c, h, w] = shape as [number, number, number];
    const plane = h * w;
    const y = new Float64Array(rows * c);
    for (let p = 0; p < rows * c; p++) {
      let sum = 0;
      for (let i = p * plane; i < (p + 1) * plane; i++) sum += x![i]!;
      y[p] = sum / plane;
    }
    return y;
  },
  describe: () => 'global_avgpool',
};
