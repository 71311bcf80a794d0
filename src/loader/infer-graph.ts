import { GraphError } from '../errors.js';
import { DEFAULT_BATCHNORM_EPS } from '../graph/spec.js';
import type { CheckedManifest, ManifestLayer } from './manifest.js';
import type { TensorMap } from './tensors.js';

/**
 * The graph of a bare state_dict, read from its key names in state_dict order:
 *  - a prefix P with P.linear1.weight and P.linear2.weight is a ResidualBlock: optional P.bn1,
 *    P.bn2 (BatchNorm1d), and a shortcut that is P.shortcut (a Linear), or P.shortcut.0 (a
 *    Linear) with an optional P.shortcut.1 (BatchNorm1d), or absent (identity);
 *  - any other Linear (a 2-D P.weight) is a plain layer with no activation (heads, stems).
 * BatchNorm eps is PyTorch's default (DEFAULT_BATCHNORM_EPS). Anything else is refused with the manifest entry
 * that would resolve it; an explicit manifest always wins over inference.
 */
export function inferGraph(tensors: TensorMap): CheckedManifest {
  const modules: string[] = [];
  for (const key of tensors.keys()) {
    const prefix = key.slice(0, key.lastIndexOf('.'));
    if (key.lastIndexOf('.') > 0 && modules[modules.length - 1] !== prefix && !modules.includes(prefix)) modules.push(prefix);
  }
  const has = (key: string) => tensors.has(key);
  const isLinear = (p: string) => tensors.get(`${p}.weight`)?.shape.length === 2 && !has(`${p}.running_mean`);
  const isBatchNorm = (p: string) => has(`${p}.running_mean`);

  const used = new Set<string>();
  const take = (p: string | null) => (p && modules.includes(p) ? (used.add(p), p) : null);
  const layers: ManifestLayer[] = [];
  for (const m of modules) {
    if (used.has(m)) continue;
    // A block's prefix; '' for a ResidualBlock saved on its own (keys "linear1.weight", ...).
    const block = m === 'linear1' ? '' : m.endsWith('.linear1') ? m.slice(0, -'.linear1'.length) : null;
    const at = (name: string) => (block ? `${block}.${name}` : name);
    if (block !== null && isLinear(at('linear2'))) {
      const bn = (p: string) => (isBatchNorm(p) ? take(p) : null);
      const shortcut = isLinear(at('shortcut')) ? at('shortcut') : isLinear(at('shortcut.0')) ? at('shortcut.0') : null;
      layers.push({
        type: 'residual_block',
        linear1: take(m)!,
        bn1: bn(at('bn1')),
        linear2: take(at('linear2'))!,
        bn2: bn(at('bn2')),
        shortcut: take(shortcut),
        shortcut_bn: shortcut === at('shortcut.0') ? bn(at('shortcut.1')) : null,
      });
    } else if (isLinear(m)) {
      layers.push({ type: 'linear', linear: take(m)!, bn: null, activation: 'none' });
    }
  }

  const left = modules.filter((m) => !used.has(m) && [...tensors.values()].some((t) => t.name.startsWith(`${m}.`) && (t.dtype.startsWith('F') || t.dtype === 'BF16')));
  if (left.length > 0 || layers.length === 0) {
    const what = left.length > 0 ? `the tensors under ${left.map((m) => `"${m}"`).join(', ')} fit no layer` : 'it holds no Linear layers';
    const hint = left.some(isBatchNorm)
      ? ` A BatchNorm outside a residual block needs a manifest entry such as { "type": "linear", "linear": "<linear before it>", "bn": "${left.find(isBatchNorm)}", "activation": "relu" }.`
      : '';
    throw new GraphError(
      `Cannot infer the graph of this state_dict: ${what}.${hint} Pass the graph explicitly: ` +
        'loadModel({ weights, graph }) with a resgpu-graph manifest (docs/MODEL-FORMAT.md), or export the model with ' +
        'the bundled Python exporter, which reads the graph from the module tree: npx resgpu export whole_model.pth out.safetensors.',
    );
  }
  const first = layers[0]!;
  const firstLinear = first.type === 'linear' ? first.linear : first.linear1;
  const input = tensors.get(`${firstLinear}.weight`)!.shape[1]!;
  return { format: 'resgpu-graph', version: 1, input, layers, batchnorm_eps: DEFAULT_BATCHNORM_EPS };
}
