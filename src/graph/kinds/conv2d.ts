import { GraphError } from '../../errors.js';
import type { FloatArray, OpNode } from '../op-graph.js';
import { attr, onlyAttrs, type NodeKind, type ShapeQuery } from './kind.js';
import { checkOutput, imageShape, MAX_IMAGE_DIM, MAX_WINDOW_ATTR, outputSize, pairAttr } from './spatial.js';

/**
 * torch.nn.Conv2d (groups=1), on rows [C, H, W] in NCHW order: weight [out, in, kh, kw] as
 * PyTorch stores it, optional bias [out], zero padding. attrs: stride [sh, sw] (default 1),
 * padding [ph, pw] (PyTorch's, both sides) or [top, left, bottom, right] (ONNX's pads, which may
 * differ per side; default 0), dilation [dh, dw] (default 1), groups (1 only). Checked attrs hold
 * padding as [top, left, bottom, right]; conv2dOf() reads a node.
 */
export const conv2d: NodeKind = {
  op: 'conv2d',
  title: 'Conv2d',
  arity: 1,
  params: { required: ['weight'], optional: ['bias'] },
  attrs(raw) {
    onlyAttrs(raw, ['stride', 'padding', 'dilation', 'groups']);
    const groups = attr(raw, 'groups', 1, (v) => Number.isSafeInteger(v) && (v as number) >= 1, 'a positive integer');
    return { stride: pairAttr(raw, 'stride', [1, 1], 1), padding: paddingAttr(raw), dilation: pairAttr(raw, 'dilation', [1, 1], 1), groups };
  },
  shapes(q) {
    const [c, h, w] = imageShape(q);
    if (q.attrs.groups !== 1) {
      throw new GraphError(`${q.where} has groups=${String(q.attrs.groups)} (a grouped or depthwise convolution); resgpu runs convolutions with groups=1 only.`);
    }
    const shape = q.tensors.weight!;
    if (shape.length !== 4) throw new GraphError(`${q.where}: its weight has shape [${shape.join(', ')}]; a Conv2d weight is 4-D [out, in, kh, kw].`);
    const [out, , kh, kw] = shape as [number, number, number, number];
    if (out === 0 || kh === 0 || kw === 0 || out > MAX_IMAGE_DIM || kh > MAX_WINDOW_ATTR || kw > MAX_WINDOW_ATTR) {
      throw new GraphError(`${q.where}: its weight has shape [${shape.join(', ')}]; resgpu runs 1 to ${MAX_IMAGE_DIM} output channels and kernels of 1 to ${MAX_WINDOW_ATTR} pixels a side.`);
    }
    const { stride, padding, dilation } = windowOf(q.attrs);
    const oh = along(q, { size: h, before: padding[0], after: padding[2], kernel: kh, stride: stride[0], dilation: dilation[0] }, 'H');
    const ow = along(q, { size: w, before: padding[1], after: padding[3], kernel: kw, stride: stride[1], dilation: dilation[1] }, 'W');
    return {
      output: checkOutput(q, [out, oh, ow]),
      params: {
        weight: { shape: [out, c, kh, kw], why: `a Conv2d fed ${c} channels` },
        bias: { shape: [out], why: `the bias of a Conv2d with ${out} output channels` },
      },
    };
  },
  reference(node, [x], rows, [shape]) {
    const cv = conv2dOf(node);
    const [c, h, w] = shape as [number, number, number];
    const [kh, kw] = cv.kernel;
    const [oh, ow] = [outputSize(cv.axes(h, w)[0], false, 'H'), outputSize(cv.axes(h, w)[1], false, 'W')];
    const { top, left } = cv.padding;
    const y = new Float64Array(rows * cv.outChannels * oh * ow);
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < cv.outChannels; o++) {
        const plane = (r * cv.outChannels + o) * oh * ow;
        y.fill(cv.bias ? cv.bias[o]! : 0, plane, plane + oh * ow);
        // Each output adds its terms in the order (channel, kernel row, kernel column), as a dot product would.
        for (let ci = 0; ci < c; ci++) {
          const image = (r * c + ci) * h * w;
          for (let i = 0; i < kh; i++) {
            for (let j = 0; j < kw; j++) {
              const wt = cv.weight[((o * c + ci) * kh + i) * kw + j]!;
              for (let py = 0; py < oh; py++) {
                const iy = py * cv.stride[0] - top + i * cv.dilation[0];
                if (iy < 0 || iy >= h) continue; // zero padding adds nothing
                for (let px = 0; px < ow; px++) {
                  const ix = px * cv.stride[1] - left + j * cv.dilation[1];
                  if (ix >= 0 && ix < w) y[plane + py * ow + px]! += wt * x![image + iy * w + ix]!;
                }
              }
            }
          }
        }
      }
    }
    return y;
  },
  describe(node) {
    const s = node.attrs.stride as number[];
    return `conv2d${s[0] !== 1 || s[1] !== 1 ? ` /${s[0] === s[1] ? s[0] : s.join('×')}` : ''}`;
  },
};

/** padding: [ph, pw] (both sides, PyTorch) or [top, left, bottom, right] (ONNX's pads); checked as the latter. */
function paddingAttr(raw: Readonly<Record<string, unknown>>): [number, number, number, number] {
  const v = raw.padding;
  const ok = (d: unknown) => Number.isSafeInteger(d) && (d as number) >= 0 && (d as number) <= MAX_WINDOW_ATTR;
  if (Array.isArray(v) && v.length === 4 && v.every(ok)) return [v[0], v[1], v[2], v[3]];
  if (Array.isArray(v) && v.length === 4) throw new Error(`attrs.padding must be integers from 0 to ${MAX_WINDOW_ATTR}, got ${JSON.stringify(v)}`);
  const [ph, pw] = pairAttr(raw, 'padding', [0, 0], 0);
  return [ph, pw, ph, pw];
}

function windowOf(attrs: Readonly<Record<string, unknown>>) {
  return { stride: attrs.stride as [number, number], padding: attrs.padding as [number, number, number, number], dilation: attrs.dilation as [number, number] };
}

function along(q: ShapeQuery, a: Parameters<typeof outputSize>[0], axis: 'H' | 'W'): number {
  try {
    return outputSize(a, false, axis);
  } catch (e) {
    throw new GraphError(`${q.where}: ${(e as Error).message}; PyTorch refuses it too.`);
  }
}

export interface Conv2dData {
  name: string;
  inChannels: number;
  outChannels: number;
  kernel: [number, number];
  stride: [number, number];
  dilation: [number, number];
  /** Zero padding on each side, in pixels. */
  padding: { top: number; left: number; bottom: number; right: number };
  /** [out, in, kh, kw], row-major (PyTorch's layout). */
  weight: FloatArray;
  bias: FloatArray | null;
  /** The window along H and along W for an input of h × w pixels. */
  axes(h: number, w: number): [Parameters<typeof outputSize>[0], Parameters<typeof outputSize>[0]];
}

/** A conv2d node's attributes and tensors, typed. */
export function conv2dOf(node: Pick<OpNode, 'name' | 'attrs' | 'shapes' | 'tensors'>): Conv2dData {
  const [outChannels, inChannels, kh, kw] = node.shapes.weight as [number, number, number, number];
  const { stride, padding, dilation } = windowOf(node.attrs);
  const [top, left, bottom, right] = padding;
  return {
    name: node.name,
    inChannels,
    outChannels,
    kernel: [kh, kw],
    stride,
    dilation,
    padding: { top, left, bottom, right },
    weight: node.tensors.weight!,
    bias: node.tensors.bias ?? null,
    axes: (h, w) => [
      { size: h, before: top, after: bottom, kernel: kh, stride: stride[0], dilation: dilation[0] },
      { size: w, before: left, after: right, kernel: kw, stride: stride[1], dilation: dilation[1] },
    ],
  };
}
