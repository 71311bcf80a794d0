import { GraphError } from '../errors.js';
import type { AttrValue, LayerDescription } from '../graph/op-graph.js';
import type { CheckedManifest, ManifestLayer } from './manifest.js';
import type { CheckedManifestV2 } from './manifest-v2.js';
import type { TensorMap } from './tensors.js';

type Node = CheckedManifestV2['nodes'][number];

/** A version-1 layer's description, before the widths are known. */
export type LegacyLayer = Omit<LayerDescription, 'inFeatures' | 'outFeatures'> & { input: string; output: string };

/** What a graph carries beside its nodes (resolve.ts). */
export interface GraphExtras {
  layers?: LegacyLayer[];
  /** A version-1 graph's layers, whose modules must each be used once. */
  v1Layers?: ManifestLayer[];
  inputNames?: string[];
  outputNames?: string[];
}

/**
 * A version-1 manifest (layers: linear, residual_block) as the op graph it means, so that one
 * loader, one fusion pass and one reference serve both versions. Version 1 names modules by
 * prefix and lets the file say whether a bias or BatchNorm affine exists, so the tensors'
 * names are read here. The layer grouping is kept for describe().layers, as it was.
 */
export function v1ToV2(m: CheckedManifest, tensors: TensorMap): { manifest: CheckedManifestV2; extras: GraphExtras } {
  const nodes: Node[] = [];
  const layers: LegacyLayer[] = [];
  let count = 0;
  const value = () => `v${count++}`;
  const eps = m.batchnorm_eps;
  const has = (key: string) => tensors.has(key);
  // Widths, for the identity-shortcut check below, only as far as the Linears chain: past a
  // misfit Linear the shape error resolve.ts reports is the one to show.
  const width = (prefix: string, from: number | undefined): number | undefined => {
    const shape = tensors.get(`${prefix}.weight`)?.shape;
    return shape?.length === 2 && shape[1] === from ? shape[0] : undefined;
  };

  const linear = (prefix: string, x: string): string => {
    const out = value();
    nodes.push({ op: 'linear', name: prefix, inputs: [x], output: out, params: { weight: `${prefix}.weight`, ...(has(`${prefix}.bias`) && { bias: `${prefix}.bias` }) }, attrs: {} });
    return out;
  };
  const batchnorm = (prefix: string | null | undefined, x: string): string => {
    if (!prefix) return x;
    if (!has(`${prefix}.running_mean`) && !has(`${prefix}.weight`)) {
      throw new GraphError(`The graph names BatchNorm "${prefix}", but the file has no tensor "${prefix}.running_mean".`);
    }
    if (!has(`${prefix}.running_mean`) || !has(`${prefix}.running_var`)) {
      throw new GraphError(
        `BatchNorm "${prefix}" has no running statistics (track_running_stats=False?); resgpu runs eval-mode ` +
          `inference and needs "${prefix}.running_mean" and "${prefix}.running_var".`,
      );
    }
    const affine = Object.fromEntries(['weight', 'bias'].filter((r) => has(`${prefix}.${r}`)).map((r) => [r, `${prefix}.${r}`]));
    const out = value();
    const attrs: Record<string, AttrValue> = { eps };
    nodes.push({ op: 'batchnorm', name: prefix, inputs: [x], output: out, params: { ...affine, running_mean: `${prefix}.running_mean`, running_var: `${prefix}.running_var` }, attrs });
    return out;
  };
  const relu = (name: string, x: string): string => {
    const out = value();
    nodes.push({ op: 'activation', name, inputs: [x], output: out, params: {}, attrs: { fn: 'relu' } });
    return out;
  };

  const input = value();
  let cur = input;
  let curWidth: number | undefined = m.input;
  m.layers.forEach((layer, i) => {
    const from = cur;
    if (layer.type === 'linear') {
      cur = batchnorm(layer.bn, linear(layer.linear, cur));
      if (layer.activation === 'relu') cur = relu(`${layer.linear}.relu`, cur);
      layers.push({ name: layer.linear, type: 'linear', foldedBatchNorms: layer.bn ? [layer.bn] : [], input: from, output: cur });
      curWidth = width(layer.linear, curWidth);
      return;
    }
    const name = commonPrefix(layer.linear1, layer.linear2);
    const out2 = width(layer.linear2, width(layer.linear1, curWidth));
    if (!layer.shortcut && curWidth !== undefined && out2 !== undefined && curWidth !== out2) {
      throw new GraphError(
        `layers[${i}]: an identity shortcut needs the block's input width (${curWidth}) to equal ` +
          `${layer.linear2}'s output width (${out2}); give the block a projection "shortcut".`,
      );
    }
    const h = relu(`${name}.relu1`, batchnorm(layer.bn1, linear(layer.linear1, cur)));
    const main = batchnorm(layer.bn2, linear(layer.linear2, h));
    const shortcut = layer.shortcut ? batchnorm(layer.shortcut_bn, linear(layer.shortcut, cur)) : cur;
    const sum = value();
    nodes.push({ op: 'add', name: `${name}.add`, inputs: [main, shortcut], output: sum, params: {}, attrs: {} });
    cur = relu(`${name}.relu2`, sum);
    const bns = [layer.bn1, layer.bn2, layer.shortcut_bn].filter((b): b is string => Boolean(b));
    layers.push({ name, type: 'residual_block', shortcut: layer.shortcut ? 'projection' : 'identity', foldedBatchNorms: bns, input: from, output: cur });
    curWidth = out2;
  });
  const manifest: CheckedManifestV2 = {
    format: 'resgpu-graph',
    version: 2,
    inputs: [{ name: input, shape: [m.input] }],
    outputs: [cur],
    nodes,
    ...(m.features && { features: m.features }),
    ...(m.labels && { labels: m.labels }),
  };
  const names = m.input_names ? { inputNames: m.input_names, outputNames: m.output_names ?? [] } : { inputNames: undefined, outputNames: undefined };
  return { manifest, extras: { layers, v1Layers: m.layers, ...names } };
}

/** "blocks.0.linear1" and "blocks.0.linear2" → "blocks.0". */
function commonPrefix(a: string, b: string): string {
  const pa = a.split('.');
  const pb = b.split('.');
  let n = 0;
  while (n < pa.length && n < pb.length && pa[n] === pb[n]) n++;
  return pa.slice(0, n).join('.') || a;
}
