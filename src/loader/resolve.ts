import { GraphError } from '../errors.js';
import type { BatchNormSpec, LayerSpec, LinearSpec, ModelSpec } from '../graph/spec.js';
import { layerOutputSize } from '../graph/spec.js';
import { decodeFloats } from './dtype.js';
import { checkEachPrefixOnce, type CheckedManifest } from './manifest.js';
import { formatShape, type TensorMap } from './tensors.js';

/**
 * Binds a manifest to the tensors of a file: looks up every named prefix, decodes the floats,
 * and checks that every shape fits and that the layers chain. All checks happen here, before
 * any backend allocates anything, so a bad model leaves nothing behind.
 */
export function resolveGraph(manifest: CheckedManifest, tensors: TensorMap): ModelSpec {
  const eps = manifest.batchnorm_eps;
  let width = manifest.input;
  const layers: LayerSpec[] = [];
  for (const [i, entry] of manifest.layers.entries()) {
    let layer: LayerSpec;
    if (entry.type === 'linear') {
      const linear = readLinear(tensors, entry.linear, width);
      layer = {
        type: 'linear',
        name: entry.linear,
        linear,
        bn: entry.bn ? readBatchNorm(tensors, entry.bn, linear, eps) : null,
        activation: entry.activation ?? 'none',
      };
    } else {
      const linear1 = readLinear(tensors, entry.linear1, width);
      const linear2 = readLinear(tensors, entry.linear2, linear1.outFeatures);
      const shortcutLinear = entry.shortcut ? readLinear(tensors, entry.shortcut, width) : null;
      if (shortcutLinear && shortcutLinear.outFeatures !== linear2.outFeatures) {
        throw new GraphError(
          `layers[${i}]: shortcut ${entry.shortcut} has ${shortcutLinear.outFeatures} outputs but ` +
            `${entry.linear2} has ${linear2.outFeatures}; the two branches must have the same width to be added.`,
        );
      }
      if (!shortcutLinear && width !== linear2.outFeatures) {
        throw new GraphError(
          `layers[${i}]: an identity shortcut needs the block's input width (${width}) to equal ` +
            `${entry.linear2}'s output width (${linear2.outFeatures}); give the block a projection "shortcut".`,
        );
      }
      layer = {
        type: 'residual_block',
        name: commonPrefix(entry.linear1, entry.linear2),
        linear1,
        bn1: entry.bn1 ? readBatchNorm(tensors, entry.bn1, linear1, eps) : null,
        linear2,
        bn2: entry.bn2 ? readBatchNorm(tensors, entry.bn2, linear2, eps) : null,
        shortcut: shortcutLinear && {
          linear: shortcutLinear,
          bn: entry.shortcut_bn ? readBatchNorm(tensors, entry.shortcut_bn, shortcutLinear, eps) : null,
        },
      };
    }
    layers.push(layer);
    width = layerOutputSize(layer);
  }
  checkEachPrefixOnce(manifest.layers);
  const names = manifest.input_names && { inputNames: manifest.input_names, outputNames: manifest.output_names ?? [] };
  const metadata = { ...(manifest.features && { features: manifest.features }), ...(manifest.labels && { labels: manifest.labels }) };
  return { inputSize: manifest.input, outputSize: width, layers, ...names, ...metadata };
}

/** "blocks.0.linear1" and "blocks.0.linear2" → "blocks.0". */
function commonPrefix(a: string, b: string): string {
  const pa = a.split('.');
  const pb = b.split('.');
  let n = 0;
  while (n < pa.length && n < pb.length && pa[n] === pb[n]) n++;
  return pa.slice(0, n).join('.') || a;
}

function tensor(tensors: TensorMap, key: string, shape: number[], why: string) {
  const t = tensors.get(key);
  if (!t) {
    throw new GraphError(`The graph needs tensor "${key}" (${why}), but the file has no such tensor.`);
  }
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new GraphError(
      `Tensor "${key}" has shape ${formatShape(t.shape)}, but the graph needs ${formatShape(shape)} (${why}).`,
    );
  }
  return decodeFloats(t.dtype, t.bytes, `Tensor "${key}"`);
}

function readLinear(tensors: TensorMap, prefix: string, inFeatures: number): LinearSpec {
  const w = tensors.get(`${prefix}.weight`);
  if (!w) throw new GraphError(`The graph needs tensor "${prefix}.weight" (a Linear weight), but the file has no such tensor.`);
  if (w.shape.length !== 2) {
    throw new GraphError(`Tensor "${prefix}.weight" has shape ${formatShape(w.shape)}; a Linear weight is 2-D [out, in].`);
  }
  const outFeatures = w.shape[0]!;
  if (outFeatures === 0 || inFeatures === 0) {
    // PyTorch accepts Linear(n, 0); its outputs are empty or constant. Refused rather than run on zero-size GPU buffers.
    throw new GraphError(
      `Linear "${prefix}" is zero-width (${inFeatures} inputs, ${outFeatures} outputs; weight ${formatShape(w.shape)}): ` +
        'resgpu refuses degenerate layers. Remove the layer, or give it at least one feature.',
    );
  }
  const weight = tensor(tensors, `${prefix}.weight`, [outFeatures, inFeatures], `a Linear fed ${inFeatures} features`);
  const bias = tensors.has(`${prefix}.bias`)
    ? tensor(tensors, `${prefix}.bias`, [outFeatures], `the bias of a Linear with ${outFeatures} outputs`)
    : null;
  return { name: prefix, inFeatures, outFeatures, weight, bias };
}

function readBatchNorm(tensors: TensorMap, prefix: string, after: LinearSpec, eps: number): BatchNormSpec {
  const n = after.outFeatures;
  const why = `a BatchNorm1d after ${after.name}, which has ${n} outputs`;
  if (!tensors.has(`${prefix}.running_mean`) && !tensors.has(`${prefix}.weight`)) {
    throw new GraphError(`The graph names BatchNorm "${prefix}", but the file has no tensor "${prefix}.running_mean".`);
  }
  if (!tensors.has(`${prefix}.running_mean`) || !tensors.has(`${prefix}.running_var`)) {
    throw new GraphError(
      `BatchNorm "${prefix}" has no running statistics (track_running_stats=False?); resgpu runs eval-mode ` +
        `inference and needs "${prefix}.running_mean" and "${prefix}.running_var".`,
    );
  }
  // affine=False BatchNorms store neither weight nor bias.
  const optional = (key: string) => (tensors.has(key) ? tensor(tensors, key, [n], why) : null);
  return {
    name: prefix,
    features: n,
    weight: optional(`${prefix}.weight`),
    bias: optional(`${prefix}.bias`),
    runningMean: tensor(tensors, `${prefix}.running_mean`, [n], why),
    runningVar: tensor(tensors, `${prefix}.running_var`, [n], why),
    eps,
  };
}
