import type { LayerDescription } from '../model.js';
import type { BatchNormSpec, ModelSpec } from './spec.js';
import { layerOutputSize } from './spec.js';

/** The layer list of describe(), the same on every backend. */
export function describeLayers(spec: ModelSpec): LayerDescription[] {
  let width = spec.inputSize;
  return spec.layers.map((layer) => {
    const names = (...bns: (BatchNormSpec | null | undefined)[]) => bns.filter((b) => b).map((b) => b!.name);
    const d: LayerDescription =
      layer.type === 'linear'
        ? { name: layer.name, type: 'linear', inFeatures: width, outFeatures: layerOutputSize(layer), foldedBatchNorms: names(layer.bn) }
        : {
            name: layer.name,
            type: 'residual_block',
            inFeatures: width,
            outFeatures: layerOutputSize(layer),
            shortcut: layer.shortcut ? 'projection' : 'identity',
            foldedBatchNorms: names(layer.bn1, layer.bn2, layer.shortcut?.bn),
          };
    width = d.outFeatures;
    return d;
  });
}
