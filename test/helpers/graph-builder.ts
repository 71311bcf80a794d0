import { encodeSafetensors, GRAPH_METADATA_KEY, type GraphManifestV2, type ManifestNode, type TensorToWrite } from '../../src/index.js';
import { rng } from './random-model.js';

/**
 * Writing a manifest-v2 model by hand, for the random test models: seeded tensors, nodes with
 * generated value names, the ops every family uses, and the file with its graph embedded.
 */
export function graphBuilder(seed: number) {
  const r = rng(seed);
  const tensors: TensorToWrite[] = [];
  const nodes: ManifestNode[] = [];
  let count = 0;
  /** A tensor of uniform values in [lo, hi); returns its name. */
  const tensor = (name: string, shape: number[], lo: number, hi: number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    tensors.push({ name, shape, data: Float32Array.from({ length: n }, () => lo + (hi - lo) * r()) });
    return name;
  };
  /** A node; returns the value it writes. */
  const node = (op: string, name: string, inputs: string[], params: Record<string, string> = {}, attrs: ManifestNode['attrs'] = {}) => {
    const output = `v${count++}`;
    nodes.push({ op, name, inputs, output, params, attrs });
    return output;
  };
  const linear = (name: string, x: string, inF: number, outF: number, bias = true) => {
    const b = 1 / Math.sqrt(inF);
    return node('linear', name, [x], { weight: tensor(`${name}.weight`, [outF, inF], -b, b), ...(bias && { bias: tensor(`${name}.bias`, [outF], -b, b) }) });
  };
  /** A BatchNorm with statistics and affine away from their defaults, as training leaves them. */
  const batchnorm = (name: string, x: string, n: number) =>
    node('batchnorm', name, [x], {
      weight: tensor(`${name}.weight`, [n], 0.5, 1.5),
      bias: tensor(`${name}.bias`, [n], -0.5, 0.5),
      running_mean: tensor(`${name}.running_mean`, [n], -0.5, 0.5),
      running_var: tensor(`${name}.running_var`, [n], 0.5, 2),
    }, { eps: 1e-5 });
  const add = (name: string, a: string, b: string) => node('add', name, [a, b]);
  /** The .safetensors file holding the tensors, with the manifest of `input` → `output`. */
  const encode = (inputShape: number[], output: string) => {
    const manifest: GraphManifestV2 = { format: 'resgpu-graph', version: 2, inputs: [{ name: 'x', shape: inputShape }], outputs: [output], nodes };
    return { manifest, bytes: encodeSafetensors(tensors, { [GRAPH_METADATA_KEY]: JSON.stringify(manifest) }) };
  };
  return { tensor, node, linear, batchnorm, add, encode };
}
