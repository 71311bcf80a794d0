import { readFileSync } from 'node:fs';
import { readFileSync as read } from 'node:fs';
import { join } from 'node:path';
import type { GraphManifest } from '../../src/index.js';
import { FAMILY_CASES_DIR, VISION_CASES_DIR } from '../global-setup.js';
import { makeRandomCnn } from '../helpers/random-cnn.js';
import { makeRandomGraph } from '../helpers/random-graph.js';
import { makeRandomModel } from '../helpers/random-model.js';
import { torchFile } from '../helpers/torch-cases.js';
import type { Format, Seed } from './campaign.js';

/** Valid files to mutate: small ones (so mutations hit structure, not float data), and the bundled example. */
export function seedsFor(format: Format): Seed[] {
  // Plain copies: a Node Buffer's slice() is a view, and mutating it would corrupt the seed.
  return seedFiles(format).map((s) => ({ ...s, bytes: new Uint8Array(s.bytes) }));
}

function seedFiles(format: Format): Seed[] {
  const example = (name: string) => new Uint8Array(readFileSync(new URL(`../../examples/${name}`, import.meta.url)));
  switch (format) {
    case 'pt':
      return [torchFile('one_block_identity.pt'), torchFile('views.pt'), torchFile('bare_block.pt'), example('breast_cancer.pt')].map((bytes, i) => ({ name: `pt${i}`, bytes }));
    case 'safetensors':
      return [
        makeRandomModel({ input: 5, blocks: [{ hidden: 7, bn: true }, { hidden: 6, out: 3 }], head: { out: 2 } }).bytes,
        makeRandomModel({ input: 4, stem: { out: 6, activation: 'relu', bn: true }, blocks: [{ hidden: 5 }], dtype: 'F16' }).bytes,
        example('breast_cancer.safetensors'),
        makeRandomGraph('prenorm_ln', { fn: 'gelu' }).bytes,
        makeRandomGraph('postnorm', { fn: 'leaky_relu', negative_slope: 0.01 }).bytes,
        // Issue 17's image ops: conv2d, BatchNorm over channels, the pools, flatten.
        makeRandomCnn('basic').bytes,
        makeRandomCnn('bottleneck').bytes,
      ].map((bytes, i) => ({ name: `st${i}`, bytes }));
    case 'onnx':
      return [
        ...['one_block_projection_odd.opset13.onnx', 'odd_sizes_with_head.opset17.onnx', 'no_batchnorm.opset11.onnx'].map((n) => ({ name: n, bytes: torchFile(n) })),
        // The families' decomposed LayerNorm and GELU (opset 13) and LayerNormalization (17).
        ...['gelu_ln.opset13.onnx', 'gelu_tanh_ln.opset13.onnx', 'rtdl.opset17.onnx', 'widedeep.opset13.onnx'].map((n) => ({ name: n, bytes: new Uint8Array(read(join(FAMILY_CASES_DIR, n))) })),
        // Conv, BatchNormalization on 4-D, MaxPool, AveragePool, GlobalAveragePool, Flatten (small: 2 → 5 channels).
        ...['pooling.opset13.onnx', 'pooling.opset17.onnx'].map((n) => ({ name: n, bytes: new Uint8Array(read(join(VISION_CASES_DIR, n))) })),
      ];
    case 'manifest': {
      const m = makeRandomModel({ input: 5, stem: { out: 6, bn: true, activation: 'relu' }, blocks: [{ hidden: 7, bn: true }, { hidden: 6, out: 3, bn: true }], head: { out: 2 } });
      const graphs = [...(['prenorm', 'postnorm', 'prenorm_ln', 'unfused'] as const).map((f) => makeRandomGraph(f, { fn: 'silu' })), makeRandomCnn('basic'), makeRandomCnn('bottleneck')];
      return [
        { name: 'manifest', bytes: m.bytes, manifest: m.manifest as GraphManifest },
        ...graphs.map((g, i) => ({ name: `manifest-v2-${i}`, bytes: g.bytes, manifest: g.manifest as unknown as GraphManifest })),
      ];
    }
  }
}
