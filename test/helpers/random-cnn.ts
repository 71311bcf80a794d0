import type { GraphManifestV2 } from '../../src/index.js';
import { graphBuilder } from './graph-builder.js';

/**
 * Residual CNNs made in TypeScript as manifest v2 (issue 17), with odd channel counts (3, 5, 13)
 * and odd image sizes, strides 1 and 2, paddings 0 and 1 and one dilation of 2, so that every
 * padding path of the channels-last layout and the conv kernel is exercised:
 *  - 'basic': a torchvision-style stem (conv, BatchNorm, ReLU, max pooling), a BasicBlock with an
 *    identity shortcut and one with a 1×1 stride-2 downsample, global pooling, a Linear;
 *  - 'bottleneck': a Bottleneck with a downsample (dilated 3×3), then average pooling
 *    (ceil_mode, count_include_pad off), a BatchNorm before a zero-padded conv (its own step)
 *    and one before an unpadded conv (folded), ending on an image (no pooling);
 * with the dispatch count the fusion pass must reach.
 */
export type CnnFamily = 'basic' | 'bottleneck';

export interface RandomCnn {
  bytes: Uint8Array;
  manifest: GraphManifestV2;
  inputShape: number[];
  inputSize: number;
  outputSize: number;
  dispatches: number;
}

export function makeRandomCnn(family: CnnFamily, seed = 5): RandomCnn {
  const { tensor, node, linear, batchnorm: bn, add, encode } = graphBuilder(seed);
  const conv = (name: string, x: string, cin: number, cout: number, k: number, attrs: { stride?: number; padding?: number; dilation?: number } = {}, bias = false) => {
    const b = 1 / Math.sqrt(cin * k * k);
    const params = { weight: tensor(`${name}.weight`, [cout, cin, k, k], -b, b), ...(bias && { bias: tensor(`${name}.bias`, [cout], -b, b) }) };
    return node('conv2d', name, [x], params, { stride: attrs.stride ?? 1, padding: attrs.padding ?? 0, dilation: attrs.dilation ?? 1 });
  };
  const relu = (name: string, x: string) => node('activation', name, [x], {}, { fn: 'relu' });
  const basicBlock = (name: string, x: string, cin: number, cout: number, stride: number) => {
    const h = relu(`${name}.relu1`, bn(`${name}.bn1`, conv(`${name}.conv1`, x, cin, cout, 3, { stride, padding: 1 }), cout));
    const main = bn(`${name}.bn2`, conv(`${name}.conv2`, h, cout, cout, 3, { padding: 1 }), cout);
    const shortcut = stride === 1 && cin === cout ? x : bn(`${name}.downsample.1`, conv(`${name}.downsample.0`, x, cin, cout, 1, { stride }), cout);
    return relu(`${name}.relu2`, add(`${name}.add`, main, shortcut));
  };

  let inputShape: number[];
  let x = 'x';
  let outputShape: number[];
  let dispatches: number;
  if (family === 'basic') {
    inputShape = [3, 17, 15];
    x = relu('relu', bn('bn1', conv('conv1', x, 3, 5, 3, { stride: 1, padding: 1 }), 5));
    x = node('maxpool2d', 'maxpool', [x], {}, { kernel: 3, stride: 2, padding: 1 }); // 9 × 8
    x = basicBlock('layer1.0', x, 5, 5, 1);
    x = basicBlock('layer2.0', x, 5, 13, 2); // 5 × 4
    x = node('flatten', 'flatten', [node('global_avgpool', 'avgpool', [x])]);
    x = linear('fc', x, 13, 3);
    outputShape = [3];
    dispatches = 1 + 1 + 2 + 2 + 1; // the global average pooling is the fc's prologue
  } else {
    inputShape = [1, 16, 13];
    x = relu('stem.relu', bn('stem.bn', conv('stem', x, 1, 8, 3, { padding: 1 }, true), 8));
    const h1 = relu('b.relu1', bn('b.bn1', conv('b.conv1', x, 8, 5, 1), 5));
    const h2 = relu('b.relu2', bn('b.bn2', conv('b.conv2', h1, 5, 5, 3, { stride: 2, padding: 2, dilation: 2 }), 5)); // 8 × 7
    const main = bn('b.bn3', conv('b.conv3', h2, 5, 13, 1), 13);
    x = relu('b.relu3', add('b.add', main, bn('b.downsample.1', conv('b.downsample.0', x, 8, 13, 1, { stride: 2 }), 13)));
    x = node('avgpool2d', 'pool', [x], {}, { kernel: 3, stride: 2, padding: 1, ceil_mode: true, count_include_pad: false }); // 5 × 4
    x = relu('unpadded.relu', conv('unpadded', bn('pre.unpadded', x, 13), 13, 5, 2, {}, true)); // BatchNorm folded into the conv: 4 × 3
    x = conv('padded', bn('pre.padded', x, 5), 5, 3, 3, { padding: 1 }, true); // BatchNorm before zero padding: a step of its own
    outputShape = [3, 4, 3];
    dispatches = 1 + 3 + 1 + 1 + 1 + 1;
  }
  const { bytes, manifest } = encode(inputShape, x);
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  return { bytes, manifest, inputShape, inputSize: size(inputShape), outputSize: size(outputShape), dispatches };
}
