import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
import type { Contender, ModelFiles } from './contenders.js';

/**
 * TensorFlow.js on WebGPU, running the network bench/make_model.py wrote with its BatchNorms
 * folded in float64 (`<preset>.folded.json` + `.bin`, stored f32): the seed's residual MLP with
 * tf.fused.matMul (+ bias + ReLU), or a torchvision ResNet with tf.fused.conv2d (+ bias + ReLU),
 * tf.add + ReLU for the residual, tf.maxPool, a mean over H and W, and the fused matMul head.
 * TF.js is channels-last: the NCHW rows every contender is given are transposed to NHWC inside
 * the timed run, as resgpu converts them on upload.
 */
interface FoldedEntry {
  offset: number;
  shape: number[];
}
interface FoldedConv {
  w: FoldedEntry;
  b: FoldedEntry;
  stride: number;
  pad: number;
  relu: boolean;
}
type FoldedLayer =
  | { type: 'linear'; w: FoldedEntry; b: FoldedEntry }
  | { type: 'residual_block'; w1: FoldedEntry; b1: FoldedEntry; w2: FoldedEntry; b2: FoldedEntry; ws?: FoldedEntry; bs?: FoldedEntry }
  | ({ type: 'conv' } & FoldedConv)
  | { type: 'maxpool'; size: number; stride: number; pad: number }
  | { type: 'block'; convs: FoldedConv[]; downsample?: FoldedConv };

type Step = (h: tf.Tensor) => tf.Tensor;

export const tensorflow: Contender = {
  name: 'TensorFlow.js (WebGPU)',
  async load(model: ModelFiles) {
    await tf.setBackend('webgpu');
    await tf.ready();
    if (!model.folded) throw new Error('no folded layers for this model (the seed presets and the image presets have them)');
    const [layout, bin] = await Promise.all([
      fetch(`${model.folded}.folded.json`).then((r) => r.json() as Promise<{ layers: FoldedLayer[] }>),
      fetch(`${model.folded}.folded.bin`).then((r) => r.arrayBuffer()),
    ]);
    const held: tf.Tensor[] = [];
    const t = <T extends tf.Tensor>(e: FoldedEntry) => {
      const tensor = tf.tensor(new Float32Array(bin, e.offset, e.shape.reduce((a, d) => a * d, 1)), e.shape);
      held.push(tensor);
      return tensor as T;
    };
    const dense = (w: tf.Tensor2D, bias: tf.Tensor, relu: boolean): Step => (a) =>
      tf.fused.matMul({ a: a as tf.Tensor2D, b: w, transposeB: true, bias, activation: relu ? 'relu' : 'linear' });
    const conv = (c: FoldedConv): Step => {
      const filter = t<tf.Tensor4D>(c.w);
      const bias = t(c.b);
      // A number is PyTorch's symmetric padding (TF's 'same' would pad 0 before and 1 after at stride 2).
      return (x) => tf.fused.conv2d({ x: x as tf.Tensor4D, filter, strides: c.stride, pad: c.pad, bias, activation: c.relu ? 'relu' : 'linear' });
    };
    const steps = layout.layers.map((l): Step => {
      switch (l.type) {
        case 'linear': {
          const head = dense(t(l.w), t(l.b), false);
          // After the convolutions: the global average pool, then the head, as torchvision's avgpool + flatten + fc.
          return (h) => head(h.rank === 4 ? tf.mean(h, [1, 2]) : h);
        }
        case 'residual_block': {
          const [inner, outer] = [dense(t(l.w1), t(l.b1), true), dense(t(l.w2), t(l.b2), false)];
          const shortcut = l.ws ? dense(t(l.ws), t(l.bs!), false) : (h: tf.Tensor) => h;
          return (h) => tf.relu(tf.add(outer(inner(h)), shortcut(h)));
        }
        case 'conv':
          return conv(l);
        case 'maxpool':
          return (h) => tf.maxPool(h as tf.Tensor4D, l.size, l.stride, l.pad);
        case 'block': {
          const convs = l.convs.map(conv);
          const shortcut = l.downsample ? conv(l.downsample) : (h: tf.Tensor) => h;
          return (h) => tf.relu(tf.add(convs.reduce((y, c) => c(y), h), shortcut(h)));
        }
      }
    });
    const shape = model.inputShape;
    return {
      async run(x, batch) {
        const y = tf.tidy(() => {
          const rows = shape && shape.length === 3 ? tf.transpose(tf.tensor4d(x, [batch, shape[0]!, shape[1]!, shape[2]!]), [0, 2, 3, 1]) : tf.tensor2d(x, [batch, x.length / batch]);
          return steps.reduce((h, step) => step(h), rows as tf.Tensor);
        });
        const out = (await y.data()) as Float32Array;
        y.dispose();
        return out;
      },
      dispose: () => held.forEach((h) => h.dispose()),
    };
  },
};
