import { onlyAttrs, type NodeKind } from './kind.js';
import { pairAttr, poolAttrs, poolAxes, poolShape } from './spatial.js';

/**
 * torch.nn.MaxPool2d on rows [C, H, W]: the largest value in each window, padding counting as
 * −∞ (it never wins). attrs: kernel [kh, kw] (required), stride (default: the kernel), padding
 * [ph, pw] (at most half the kernel, as PyTorch requires), dilation (default 1), ceil_mode
 * (default false; PyTorch's output size, dropping a last window that would start in the padding).
 * NaN propagates as in PyTorch's max pooling: a window holding a NaN gives NaN.
 */
export const maxpool2d: NodeKind = {
  op: 'maxpool2d',
  title: 'MaxPool2d',
  arity: 1,
  params: { required: [], optional: [] },
  attrs(raw) {
    onlyAttrs(raw, ['kernel', 'stride', 'padding', 'dilation', 'ceil_mode']);
    return { ...poolAttrs(raw), dilation: pairAttr(raw, 'dilation', [1, 1], 1) };
  },
  shapes: (q) => ({ output: poolShape(q), params: {} }),
  reference(node, [x], rows, [shape]) {
    const [c, h, w] = shape as [number, number, number];
    const [ay, ax] = poolAxes(node.attrs, h, w);
    const [, oh, ow] = poolShape({ where: node.name, inputs: [shape!], attrs: node.attrs, tensors: {} });
    const y = new Float64Array(rows * c * oh * ow);
    let k = 0;
    for (let plane = 0; plane < rows * c; plane++) {
      for (let py = 0; py < oh; py++) {
        for (let px = 0; px < ow; px++) {
          let m = -Infinity;
          for (let i = 0; i < ay.kernel; i++) {
            const iy = py * ay.stride - ay.before + i * ay.dilation;
            if (iy < 0 || iy >= h) continue;
            for (let j = 0; j < ax.kernel; j++) {
              const ix = px * ax.stride - ax.before + j * ax.dilation;
              if (ix < 0 || ix >= w) continue;
              const v = x![(plane * h + iy) * w + ix]!;
              // ATen's test: a NaN replaces the maximum, and nothing then beats it.
              if (v > m || Number.isNaN(v)) m = v;
            }
          }
          y[k++] = m;
        }
      }
    }
    return y;
  },
  describe: (node) => `maxpool2d(${(node.attrs.kernel as number[]).join('×')})`,
};
