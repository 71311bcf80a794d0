import { attr, onlyAttrs, type NodeKind } from './kind.js';
import { poolAttrs, poolAxes, poolShape } from './spatial.js';

/**
 * torch.nn.AvgPool2d on rows [C, H, W]: the mean of each window, with zero padding. attrs:
 * kernel [kh, kw] (required), stride (default: the kernel), padding [ph, pw] (at most half the
 * kernel), ceil_mode (default false), count_include_pad (default true, as PyTorch's: the divisor
 * counts the padding, but not the part of a ceil_mode window past the padded input; false: only
 * the input pixels in the window). divisor_override is not supported.
 */
export const avgpool2d: NodeKind = {
  op: 'avgpool2d',
  title: 'AvgPool2d',
  arity: 1,
  params: { required: [], optional: [] },
  attrs(raw) {
    onlyAttrs(raw, ['kernel', 'stride', 'padding', 'ceil_mode', 'count_include_pad']);
    return { ...poolAttrs(raw), count_include_pad: attr(raw, 'count_include_pad', true, (v) => typeof v === 'boolean', 'true or false') };
  },
  shapes: (q) => ({ output: poolShape(q), params: {} }),
  reference(node, [x], rows, [shape]) {
    const [c, h, w] = shape as [number, number, number];
    const [ay, ax] = poolAxes(node.attrs, h, w);
    const [, oh, ow] = poolShape({ where: node.name, inputs: [shape!], attrs: node.attrs, tensors: {} });
    const includePad = node.attrs.count_include_pad === true;
    const y = new Float64Array(rows * c * oh * ow);
    let k = 0;
    for (let plane = 0; plane < rows * c; plane++) {
      for (let py = 0; py < oh; py++) {
        // ATen's avg_pool2d: the window clipped to the padded input (its size is the divisor with
        // count_include_pad), then to the input (the pixels summed, and the divisor without).
        const y0 = py * ay.stride - ay.before;
        const y1 = Math.min(y0 + ay.kernel, h + ay.after);
        const [top, bottom] = [Math.max(y0, 0), Math.min(y1, h)];
        for (let px = 0; px < ow; px++) {
          const x0 = px * ax.stride - ax.before;
          const x1 = Math.min(x0 + ax.kernel, w + ax.after);
          const [left, right] = [Math.max(x0, 0), Math.min(x1, w)];
          let sum = 0;
          for (let iy = top; iy < bottom; iy++) for (let ix = left; ix < right; ix++) sum += x![(plane * h + iy) * w + ix]!;
          const count = includePad ? (y1 - y0) * (x1 - x0) : (bottom - top) * (right - left);
          y[k++] = count > 0 ? sum / count : 0;
        }
      }
    }
    return y;
  },
  describe: (node) => `avgpool2d(${(node.attrs.kernel as number[]).join('×')})`,
};
