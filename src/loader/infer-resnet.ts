import { GraphError, OptionError } from '../errors.js';
import { DEFAULT_NORM_EPS } from '../graph/op-graph.js';
import { parseManifest } from './manifest.js';
import type { CheckedManifestV2, ManifestAttr, ManifestNode } from './manifest-v2.js';
import { formatShape, type TensorMap } from './tensors.js';

type Node = ManifestNode;

/** Blocks per layer a state_dict may hold (resnet152 has 36): bounds the work a hostile key list can ask for. */
const MAX_BLOCKS = 1_000;

/**
 * The graph of a torchvision ResNet state_dict (torchvision.models.ResNet: resnet18/34/50/101/152,
 * wide_resnet50_2/101_2, any num_classes, any stem in_channels), inferred only when its keys and
 * shapes are torchvision's layout exactly, so that the forward pass is the class's own:
 *  - stem: conv1 [c, in, 7, 7] (stride 2, padding 3, no bias), bn1, ReLU, MaxPool 3×3 stride 2 padding 1;
 *  - layer1..layer4, blocks numbered 0..n−1, every block of one type: BasicBlock (conv1 3×3
 *    stride s, bn1, ReLU, conv2 3×3, bn2) or Bottleneck (conv1 1×1, bn1, ReLU, conv2 3×3
 *    stride s, bn2, ReLU, conv3 1×1, bn3: torchvision's "v1.5", the stride on the 3×3), its
 *    widths read from the conv shapes (wide variants too); then the add of the shortcut and a ReLU.
 *    s = 2 for block 0 of layer2..4, else 1; the shortcut is downsample.0 (1×1 conv, stride s,
 *    no bias) + downsample.1 (BatchNorm) exactly where torchvision makes one (s ≠ 1, or the block
 *    changes the channel count), else the identity;
 *  - adaptive average pooling to 1×1, flatten, fc (a Linear with bias);
 *  - no other float tensor (num_batches_tracked buffers are ignored); BatchNorm eps 1e-5.
 * A state_dict does not record the image size: `inputShape` gives it. What a state_dict cannot
 * tell apart is assumed as torchvision builds it by default (no replace_stride_with_dilation).
 * Anything else is refused, naming what deviates and the two exports that record a whole graph.
 */
export function inferResnet(tensors: TensorMap, inputShape: readonly number[] | undefined): CheckedManifestV2 {
  const shapes = new Map<string, readonly number[]>();
  for (const [key, t] of tensors) if (t.dtype.startsWith('F') || t.dtype === 'BF16') shapes.set(key, t.shape);
  const used = new Set<string>();
  const nodes: Node[] = [];

  const has = (key: string) => shapes.has(key);
  /** The tensor's shape, which must be `want` (null: any length-`rank` shape, read by the caller). */
  const tensor = (key: string, want: (number | null)[], what: string): number[] => {
    const got = shapes.get(key);
    if (!got) refuse(`it has no "${key}" (${what})`);
    if (got.length !== want.length || want.some((d, i) => d !== null && d !== got[i])) {
      refuse(`"${key}" has shape ${formatShape(got)} where torchvision's ${what} has ${formatShape(want.map((d) => d ?? 'n') as number[])}`);
    }
    used.add(key);
    return [...got];
  };
  const emit = (op: string, name: string, input: string, params: Record<string, string> = {}, attrs: Record<string, ManifestAttr> = {}): string => {
    nodes.push({ op, name, inputs: [input], output: name, params, attrs });
    return name;
  };
  /** A conv without bias, its weight [out, in, k, k]; returns its output channels. */
  const conv = (prefix: string, x: string, inC: number, k: number, stride: number, outC: number | null, what: string): [string, number] => {
    if (has(`${prefix}.bias`)) refuse(`"${prefix}" has a bias; torchvision's convolutions have none`);
    const got = shapes.get(`${prefix}.weight`);
    if (got?.length === 4 && got[1] !== inC && got[2] === k && got[3] === k) {
      refuse(`"${prefix}.weight" takes ${got[1]} channels where the layer before gives ${inC}${got[1]! * 2 <= inC ? ' (a grouped convolution, as in ResNeXt?)' : ''}`);
    }
    const [out] = tensor(`${prefix}.weight`, [outC, inC, k, k], what) as [number];
    return [emit('conv2d', prefix, x, { weight: `${prefix}.weight` }, { stride: [stride, stride], padding: [(k - 1) / 2, (k - 1) / 2] }), out];
  };
  const bn = (prefix: string, x: string, c: number): string => {
    const roles = ['weight', 'bias', 'running_mean', 'running_var'];
    const params = Object.fromEntries(roles.map((r) => [r, `${prefix}.${r}`]));
    for (const r of roles) tensor(`${prefix}.${r}`, [c], `BatchNorm2d(${c})`);
    return emit('batchnorm', prefix, x, params, { eps: DEFAULT_NORM_EPS });
  };
  const relu = (name: string, x: string) => emit('activation', name, x, {}, { fn: 'relu' });

  // The stem.
  const stem = shapes.get('conv1.weight');
  if (!stem || stem.length !== 4 || stem[2] !== 7 || stem[3] !== 7) {
    refuse(stem ? `its stem "conv1.weight" is ${formatShape(stem)}, not torchvision's 7×7 [64, in, 7, 7] (a 3×3 stem is a CIFAR-style ResNet, whose layout a state_dict does not tell)` : 'it has no "conv1.weight", the stem of a torchvision ResNet');
  }
  const inChannels = stem[1]!;
  const input = checkInputShape(inputShape, inChannels);
  let [x, c] = conv('conv1', 'x', inChannels, 7, 2, null, 'stem, a 7×7 convolution');
  x = relu('relu', bn('bn1', x, c));
  x = emit('maxpool2d', 'maxpool', x, {}, { kernel: [3, 3], stride: [2, 2], padding: [1, 1] });

  // The four layers, every block of one type.
  const bottleneck = has('layer1.0.conv3.weight');
  const blockName = bottleneck ? 'Bottleneck' : 'BasicBlock';
  const counts: number[] = [];
  for (let layer = 1; layer <= 4; layer++) {
    const blocks = blockCount(shapes, `layer${layer}`);
    counts.push(blocks);
    for (let b = 0; b < blocks; b++) {
      const p = `layer${layer}.${b}`;
      if (has(`${p}.conv3.weight`) !== bottleneck) refuse(`"${p}" is ${bottleneck ? 'a BasicBlock' : 'a Bottleneck'} where layer1.0 is ${bottleneck ? 'a Bottleneck' : 'a BasicBlock'}; torchvision builds every block of a ResNet from one class`);
      const stride = layer > 1 && b === 0 ? 2 : 1;
      const shortcut = x;
      let h: string;
      let out: number;
      if (bottleneck) {
        let width: number;
        [h, width] = conv(`${p}.conv1`, x, c, 1, 1, null, `${blockName}'s conv1, a 1×1 convolution`);
        h = relu(`${p}.relu1`, bn(`${p}.bn1`, h, width));
        [h] = conv(`${p}.conv2`, h, width, 3, stride, width, `${blockName}'s conv2, a 3×3 convolution`);
        h = relu(`${p}.relu2`, bn(`${p}.bn2`, h, width));
        [h, out] = conv(`${p}.conv3`, h, width, 1, 1, null, `${blockName}'s conv3, a 1×1 convolution`);
        h = bn(`${p}.bn3`, h, out);
      } else {
        [h, out] = conv(`${p}.conv1`, x, c, 3, stride, null, `${blockName}'s conv1, a 3×3 convolution`);
        h = relu(`${p}.relu1`, bn(`${p}.bn1`, h, out));
        [h] = conv(`${p}.conv2`, h, out, 3, 1, out, `${blockName}'s conv2, a 3×3 convolution`);
        h = bn(`${p}.bn2`, h, out);
      }
      const projected = stride !== 1 || c !== out;
      if (has(`${p}.downsample.0.weight`) !== projected) {
        refuse(`"${p}" ${projected ? 'has no' : 'has a'} downsample where torchvision ${projected ? 'makes one (its stride or channel count changes)' : 'makes none'}`);
      }
      let s = shortcut;
      if (projected) [s] = conv(`${p}.downsample.0`, shortcut, c, 1, stride, out, 'downsample.0, a 1×1 convolution');
      if (projected) s = bn(`${p}.downsample.1`, s, out);
      nodes.push({ op: 'add', name: `${p}.add`, inputs: [h, s], output: `${p}.add`, params: {}, attrs: {} });
      x = relu(`${p}.relu${bottleneck ? 3 : 2}`, `${p}.add`);
      c = out;
    }
  }

  // The head.
  x = emit('flatten', 'flatten', emit('global_avgpool', 'avgpool', x));
  const [classes] = tensor('fc.weight', [null, c], `fc, a Linear fed ${c} features`) as [number];
  tensor('fc.bias', [classes], `fc's bias`);
  emit('linear', 'fc', x, { weight: 'fc.weight', bias: 'fc.bias' });

  const extra = [...shapes.keys()].filter((k) => !used.has(k));
  if (extra.length > 0) refuse(`it holds tensors torchvision's ResNet (${blockName}s ${formatShape(counts)}) has not: ${extra.slice(0, 6).map((k) => `"${k}"`).join(', ')}${extra.length > 6 ? `, and ${extra.length - 6} more` : ''}`);
  // Through the manifest's own checks, which also fill in each kind's attribute defaults.
  return parseManifest({ format: 'resgpu-graph', version: 2, inputs: [{ name: 'x', shape: input }], outputs: ['fc'], nodes }) as CheckedManifestV2;
}

/** Blocks of a layer: keys `<layer>.<j>.…` with j = 0..n−1, at least one. */
function blockCount(shapes: Map<string, readonly number[]>, layer: string): number {
  const seen = new Set<number>();
  for (const key of shapes.keys()) {
    if (!key.startsWith(`${layer}.`)) continue;
    const j = key.slice(layer.length + 1).split('.')[0]!;
    if (!/^\d+$/.test(j) || Number(j) >= MAX_BLOCKS) refuse(`"${key}" is no block of ${layer} (blocks are numbered 0, 1, 2, …)`);
    seen.add(Number(j));
  }
  if (seen.size === 0) refuse(`it has no ${layer}; torchvision's ResNet has layer1 to layer4`);
  const missing = Array.from({ length: Math.max(...seen) + 1 }, (_, j) => j).filter((j) => !seen.has(j));
  if (missing.length > 0) refuse(`${layer} has no block ${missing[0]} before block ${Math.max(...seen)}`);
  return seen.size;
}

/** The row shape of the model input: inputShape, which a state_dict needs, checked against the stem's channels. */
function checkInputShape(inputShape: readonly number[] | undefined, channels: number): number[] {
  if (!inputShape) {
    throw new GraphError(
      `This state_dict is a torchvision ResNet for ${channels}-channel images, but a state_dict does not record the image size: ` +
        `pass it as loadModel(file, { inputShape: [${channels}, H, W] }) (e.g. [${channels}, 224, 224]).`,
    );
  }
  if (inputShape.length !== 3 || inputShape[0] !== channels) {
    throw new OptionError(`inputShape ${formatShape([...inputShape])} does not fit this ResNet: its stem "conv1.weight" takes ${channels}-channel images, so inputShape must be [${channels}, H, W].`);
  }
  return [...inputShape];
}

function refuse(why: string): never {
  throw new GraphError(
    `Cannot infer the graph of this state_dict: it holds convolutions but is not a torchvision ResNet's layout exactly: ${why}. ` +
      'resgpu infers only torchvision.models.ResNet state_dicts (resnet18/34/50/101/152, wide_resnet50_2/101_2) from their keys. ' +
      'Export the model with the bundled exporter (npx resgpu export whole_model.pth out.safetensors --input-shape C,H,W; tools/export_resgpu.py) ' +
      'or with torch.onnx.export, and load that file: both record the whole graph.',
  );
}
