import { outputSize, type Axis } from '../../graph/kinds/spatial.js';
import type { ManifestAttr } from '../manifest-v2.js';
import { floats, type Node } from './decode.js';
import type { OnnxGraph, Rule } from './graph.js';

/**
 * The ONNX ops of image models (torchvision's ResNets as torch.onnx.export writes them at opsets
 * 11 to 17), as rules of the RULES table: Conv, MaxPool, AveragePool, GlobalAveragePool, and a
 * zero Pad whose only reader is a Conv or an AveragePool (torch writes AvgPool2d with
 * count_include_pad=True as Pad + AveragePool, F.pad + Conv likewise), folded into that op's
 * padding. Attributes resgpu cannot honour exactly are refused by name: auto_pad other than
 * NOTSET, group ≠ 1, pooling pads that differ per side, and ceil_mode where a last window would
 * start in the padding (whether it counts differs between PyTorch and ONNX runtimes).
 */

type Pads = [number, number, number, number];


/** The image a node reads (through a folded Pad) and the pads it adds to its own. */
function imageInput(n: Node, g: OnnxGraph): { input: string; shape: number[]; pads: Pads } | null {
  const value = n.input?.[0] ?? '';
  const pad = g.padded.get(value);
  const input = pad ? pad.input : value;
  const shape = g.shapes.get(input);
  return shape?.length === 3 ? { input, shape, pads: pad ? pad.pads : [0, 0, 0, 0] } : null;
}

/** The window attributes of a 2-D Conv or pool node, or a problem. */
function windowAttrs(n: Node, g: OnnxGraph, what: string, kernel: number[] | undefined) {
  const autoPad = g.stringAttr(n, 'auto_pad', 'NOTSET');
  if (autoPad !== 'NOTSET') return `${what} has auto_pad=${autoPad}; resgpu reads explicit pads (auto_pad NOTSET, what torch.onnx.export writes)`;
  const k = kernel ?? g.intsAttr(n, 'kernel_shape');
  const stride = g.intsAttr(n, 'strides') ?? [1, 1];
  const dilation = g.intsAttr(n, 'dilations') ?? [1, 1];
  const pads = g.intsAttr(n, 'pads') ?? [0, 0, 0, 0];
  if (k?.length !== 2 || stride.length !== 2 || dilation.length !== 2 || pads.length !== 4) return `${what} is not 2-D (kernel_shape [${k ?? ''}]); resgpu runs 2-D convolutions and pooling`;
  return { kernel: k as [number, number], stride: stride as [number, number], dilation: dilation as [number, number], pads: pads as Pads };
}

const axes = (shape: number[], w: { kernel: number[]; stride: number[]; dilation: number[] }, pads: Pads): [Axis, Axis] => [
  { size: shape[1]!, before: pads[0], after: pads[2], kernel: w.kernel[0]!, stride: w.stride[0]!, dilation: w.dilation[0]! },
  { size: shape[2]!, before: pads[1], after: pads[3], kernel: w.kernel[1]!, stride: w.stride[1]!, dilation: w.dilation[1]! },
];

/** Output [oh, ow]: PyTorch's formula, or a problem where it cannot be computed or ceil_mode is ambiguous. */
function outputHw(a: [Axis, Axis], ceil: boolean, what: string): [number, number] | string {
  try {
    const out = a.map((x, i) => outputSize(x, ceil, i === 0 ? 'H' : 'W')) as [number, number];
    const plain = a.map((x) => Math.ceil((x.size + x.before + x.after - x.dilation * (x.kernel - 1) - 1) / x.stride) + 1);
    if (ceil && (plain[0] !== out[0] || plain[1] !== out[1])) {
      return `${what} has ceil_mode=1 with a last window that would start in the padding, which PyTorch drops and some ONNX runtimes keep; export with ceil_mode=False or other padding`;
    }
    return out;
  } catch (e) {
    return `${what}: ${(e as Error).message}`;
  }
}

const pushed = (g: OnnxGraph, problem: string): true => (g.problems.push(problem), true);
const sum = (a: Pads, b: Pads): Pads => [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]];
const padAttr = (p: Pads): ManifestAttr => (p[0] === p[2] && p[1] === p[3] ? [p[0], p[1]] : [...p]);

const conv: Rule = (n, g, what) => {
  const x = imageInput(n, g);
  const w = g.constant(n, 1);
  const b = n.input?.[2] ? g.constant(n, 2) : undefined;
  if (!x) return false;
  if (!w || w.shape.length !== 4 || (n.input?.[2] && !b)) return pushed(g, `${what} reads weights that are not a constant 4-D tensor (and bias)`);
  const group = g.attr(n, 'group', 1);
  if (group !== 1) return pushed(g, `${what} has group=${group} (a grouped or depthwise convolution); resgpu runs convolutions with groups=1 only`);
  const win = windowAttrs(n, g, what, g.intsAttr(n, 'kernel_shape') ?? w.shape.slice(2));
  if (typeof win === 'string') return pushed(g, win);
  const [out, inC, kh, kw] = w.shape as [number, number, number, number];
  if (win.kernel[0] !== kh || win.kernel[1] !== kw) return pushed(g, `${what} has kernel_shape [${win.kernel}] but a weight of [${w.shape}]`);
  if (inC !== x.shape[0]) return pushed(g, `${what} takes ${inC} channels but is fed ${x.shape[0]}`);
  const pads = sum(win.pads, x.pads);
  const hw = outputHw(axes(x.shape, win, pads), false, what);
  if (typeof hw === 'string') return pushed(g, hw);
  const p = g.prefix(w.name);
  const params: Record<string, string> = { weight: g.param(`${p}.weight`, w) };
  if (b) {
    if (b.shape.length !== 1 || b.shape[0] !== out) return pushed(g, `${what} has a bias of shape [${b.shape}] for ${out} output channels`);
    params.bias = g.param(`${p}.bias`, b);
  }
  const attrs = { stride: win.stride, padding: padAttr(pads), dilation: win.dilation };
  return g.emit(n, { op: 'conv2d', name: p.startsWith('onnx.') ? undefined : p, inputs: [x.input], params, attrs }, [out, ...hw]);
};

/** MaxPool and AveragePool: symmetric pads only (PyTorch's pooling pads both sides alike). */
const pool = (op: 'maxpool2d' | 'avgpool2d'): Rule => (n, g, what) => {
  const x = imageInput(n, g);
  if (!x) return false;
  if (n.output?.[1] && g.readers(n.output[1]) > 0) return pushed(g, `${what}'s Indices output is read; resgpu computes the pooled values only`);
  const win = windowAttrs(n, g, what, undefined);
  if (typeof win === 'string') return pushed(g, win);
  const fromPad = x.pads.some((v) => v !== 0);
  const pads = sum(win.pads, x.pads);
  if (pads[0] !== pads[2] || pads[1] !== pads[3]) return pushed(g, `${what} pads [${pads}] (top, left, bottom, right) unequally; resgpu pools with the same padding on both sides, as PyTorch does`);
  const ceil = g.attr(n, 'ceil_mode', 0) !== 0;
  const attrs: Record<string, ManifestAttr> = { kernel: win.kernel, stride: win.stride, padding: [pads[0], pads[1]], ceil_mode: ceil };
  if (op === 'maxpool2d') attrs.dilation = win.dilation;
  else {
    if (win.dilation.some((d) => d !== 1)) return pushed(g, `${what} has dilations [${win.dilation}]; average pooling has none in PyTorch`);
    // A zero Pad before the pool is padding the divisor counts: count_include_pad=True.
    const included = fromPad || g.attr(n, 'count_include_pad', 0) !== 0;
    if (fromPad && win.pads.some((v) => v !== 0)) return pushed(g, `${what} has pads of its own after a Pad; resgpu folds one or the other`);
    if (included && ceil) {
      const [floor, ceiled] = [outputHw(axes(x.shape, win, pads), false, what), outputHw(axes(x.shape, win, pads), true, what)];
      if (typeof floor !== 'string' && typeof ceiled !== 'string' && (ceiled[0] !== floor[0] || ceiled[1] !== floor[1])) {
        return pushed(g, `${what} averages a partial last window (ceil_mode=1) counting padding, whose divisor differs between PyTorch and ONNX runtimes; export with ceil_mode=False`);
      }
    }
    attrs.count_include_pad = included;
  }
  const hw = outputHw(axes(x.shape, win, pads), ceil, what);
  if (typeof hw === 'string') return pushed(g, hw);
  return g.emit(n, { op, inputs: [x.input], attrs }, [x.shape[0]!, ...hw]);
};

/** A constant zero Pad of H and W only, read by one Conv or AveragePool: folded into it. */
const pad: Rule = (n, g) => {
  const shape = g.shape(n);
  const readers = g.consumers.get(n.output?.[0] ?? '') ?? [];
  const padsValue = n.input?.[1] ? g.constant(n, 1) : undefined;
  const pads = padsValue ? [...floats(padsValue)] : (g.intsAttr(n, 'pads') ?? []); // an input from opset 11, an attribute before
  const value = n.input?.[2] ? g.scalar(n.input[2]) : g.attr(n, 'value', 0);
  const onlyHw = pads.length === 8 && pads[0] === 0 && pads[1] === 0 && pads[4] === 0 && pads[5] === 0 && pads.every((p) => p >= 0);
  const reader = readers.length === 1 && g.readers(n.output![0]!) === 1 ? readers[0]!.opType : '';
  if (shape?.length !== 3 || g.stringAttr(n, 'mode', 'constant') !== 'constant' || value !== 0 || !onlyHw || !['Conv', 'AveragePool'].includes(reader ?? '')) return false;
  g.padded.set(n.output![0]!, { input: n.input![0]!, pads: [pads[2]!, pads[3]!, pads[6]!, pads[7]!] });
  return true;
};

export const IMAGE_RULES: Readonly<Record<string, Rule>> = {
  Conv: conv,
  MaxPool: pool('maxpool2d'),
  AveragePool: pool('avgpool2d'),
  GlobalAveragePool: (n, g) => {
    const shape = g.shape(n);
    return shape?.length === 3 && g.emit(n, { op: 'global_avgpool', inputs: [n.input![0]!] }, [shape[0]!, 1, 1]);
  },
  Pad: pad,
};
