import { GraphError } from '../errors.js';
import { DEFAULT_NORM_EPS as DEFAULT_BATCHNORM_EPS } from '../graph/op-graph.js';
import { MAX_LAYERS, type CheckedManifest, type GraphManifest, type ManifestLayer } from './manifest.js';
import type { TensorMap } from './tensors.js';

/**
 * The graph of a bare state_dict, inferred only where the keys prove it. A state_dict records
 * parameters, not modules: a ReLU, Dropout or Identity leaves no key, so two Linears in a row
 * may or may not have a ReLU between them, and guessing wrong gives confident wrong numbers.
 * The one pattern inferred is the seed's:
 *  - one or more ResidualBlocks: a prefix P with P.linear1 and P.linear2 (Linears), optional
 *    P.bn1, P.bn2 (BatchNorm1d), and a shortcut that is P.shortcut (a Linear), or P.shortcut.0
 *    (a Linear) with an optional P.shortcut.1 (BatchNorm1d), or absent (identity); a block's
 *    forward is fixed by its class, so nothing is guessed inside it;
 *  - then at most one plain Linear, the head, last.
 * Anything else (plain Linears in a row, a Linear before the blocks, nn.Sequential index gaps,
 * unknown names) is refused with the manifest that would express the likely intent.
 * BatchNorm eps is PyTorch's default (DEFAULT_BATCHNORM_EPS).
 */
export function inferGraph(tensors: TensorMap): CheckedManifest {
  const modules = modulesOf(tensors);
  if (modules.size > 4 * MAX_LAYERS) throw new GraphError(`Cannot infer the graph of this state_dict: it has ${modules.size} modules, more than the ${MAX_LAYERS} layers resgpu runs could hold.`);
  const units = readUnits(modules);
  const problems = [...indexGaps(modules), ...orderProblems(units)];
  if (problems.length > 0) throw new GraphError(refusal(problems, units, modules, tensors));
  const layers = units.map((u) => u.layer!);
  if (layers.length > MAX_LAYERS) throw new GraphError(`Cannot infer the graph of this state_dict: it has ${layers.length} layers, more than the ${MAX_LAYERS} layers resgpu runs.`);
  const first = layers[0]!;
  const input = tensors.get(`${first.type === 'linear' ? first.linear : first.linear1}.weight`)!.shape[1]!;
  return { format: 'resgpu-graph', version: 1, input, layers, batchnorm_eps: DEFAULT_BATCHNORM_EPS };
}

type Kind = 'linear' | 'batchnorm' | 'other';

/** A module of the state_dict: its key prefix, what its parameters make it, in first-key order. */
interface Module {
  prefix: string;
  kind: Kind;
}

/** A run of modules the inference reads as one thing. `layer` is absent when it is not a layer resgpu infers. */
interface Unit {
  prefix: string;
  what: 'block' | 'linear' | 'batchnorm' | 'unknown';
  layer?: ManifestLayer;
}

const join = (p: string, name: string) => (p ? `${p}.${name}` : name);

/** Modules in state_dict order; one pass over the keys, so 40,000 layers cost no more than they should. */
function modulesOf(tensors: TensorMap): Map<string, Module> {
  const params = new Map<string, Set<string>>();
  for (const [key, t] of tensors) {
    const dot = key.lastIndexOf('.');
    const prefix = dot < 0 ? '' : key.slice(0, dot);
    // Integer buffers (num_batches_tracked) say nothing about the computation.
    if (!(t.dtype.startsWith('F') || t.dtype === 'BF16') && !params.has(prefix)) continue;
    let set = params.get(prefix);
    if (!set) params.set(prefix, (set = new Set()));
    set.add(dot < 0 ? key : key.slice(dot + 1));
  }
  const modules = new Map<string, Module>();
  for (const [prefix, names] of params) {
    const kind: Kind = names.has('running_mean')
      ? 'batchnorm'
      : tensors.get(join(prefix, 'weight'))?.shape.length === 2 && [...names].every((n) => n === 'weight' || n === 'bias')
        ? 'linear'
        : 'other';
    modules.set(prefix, { prefix, kind });
  }
  return modules;
}

/** Groups modules into blocks, plain linears, and what fits neither. */
function readUnits(modules: Map<string, Module>): Unit[] {
  const kindOf = (p: string) => modules.get(p)?.kind;
  const used = new Set<string>();
  const units: Unit[] = [];
  for (const { prefix, kind } of modules.values()) {
    if (used.has(prefix)) continue;
    const isLinear1 = prefix === 'linear1' || prefix.endsWith('.linear1');
    const block = isLinear1 ? prefix.slice(0, -'linear1'.length).replace(/\.$/, '') : null;
    if (block !== null && kind === 'linear' && kindOf(join(block, 'linear2')) === 'linear') {
      const at = (name: string) => join(block, name);
      const take = (name: string, want: Kind) => (kindOf(at(name)) === want ? (used.add(at(name)), at(name)) : null);
      const linear1 = take('linear1', 'linear')!;
      const bn1 = take('bn1', 'batchnorm');
      const linear2 = take('linear2', 'linear')!;
      const bn2 = take('bn2', 'batchnorm');
      const shortcut = take('shortcut', 'linear') ?? take('shortcut.0', 'linear');
      const shortcutBn = shortcut === at('shortcut.0') ? take('shortcut.1', 'batchnorm') : null;
      units.push({ prefix: block, what: 'block', layer: { type: 'residual_block', linear1, bn1, linear2, bn2, shortcut, shortcut_bn: shortcutBn } });
      continue;
    }
    used.add(prefix);
    if (kind === 'linear') units.push({ prefix, what: 'linear', layer: { type: 'linear', linear: prefix, bn: null, activation: 'none' } });
    else units.push({ prefix, what: kind === 'batchnorm' ? 'batchnorm' : 'unknown' });
  }
  // A module left inside a block's prefix (blocks.0.extra) is part of a block resgpu does not know.
  const blocks = new Set(units.filter((u) => u.what === 'block').map((u) => u.prefix));
  const insideBlock = (prefix: string) => {
    if (blocks.has('')) return true;
    for (let dot = prefix.indexOf('.'); dot > 0; dot = prefix.indexOf('.', dot + 1)) if (blocks.has(prefix.slice(0, dot))) return true;
    return false;
  };
  for (const u of units) if (u.what !== 'block' && insideBlock(u.prefix)) u.what = 'unknown';
  return units;
}

/** nn.Sequential children are numbered 0, 1, 2, …; a missing number is a module without parameters. */
function indexGaps(modules: Map<string, Module>): string[] {
  const children = new Map<string, Set<number>>();
  for (const prefix of modules.keys()) {
    const parts = prefix.split('.');
    for (let i = 0; i < parts.length; i++) {
      if (!/^\d+$/.test(parts[i]!)) continue;
      const parent = parts.slice(0, i).join('.');
      let set = children.get(parent);
      if (!set) children.set(parent, (set = new Set()));
      set.add(Number(parts[i]));
    }
  }
  const problems: string[] = [];
  for (const [parent, set] of children) {
    const present = [...set].sort((a, b) => a - b);
    const last = present[present.length - 1]!;
    if (last > present.length * 4 + 16) {
      problems.push(`the keys under ${describeParent(parent)} skip most indices up to ${last}`);
      continue;
    }
    const missing = Array.from({ length: last + 1 }, (_, i) => i).filter((i) => !set.has(i));
    if (missing.length === 0) continue;
    problems.push(
      `keys ${list(present)} under ${describeParent(parent)} leave gaps at ${list(missing)}: modules without parameters ` +
        '(ReLU? Dropout? Identity?) whose place a state_dict does not record',
    );
  }
  return problems;
}

function orderProblems(units: Unit[]): string[] {
  const problems: string[] = [];
  const quoted = (u: Unit) => `"${u.prefix}"`;
  for (const u of units) {
    if (u.what === 'batchnorm') problems.push(`${quoted(u)} is a BatchNorm outside a residual block`);
    if (u.what === 'unknown') problems.push(`the tensors under ${quoted(u)} fit no layer resgpu infers`);
  }
  const blocks = units.filter((u) => u.what === 'block');
  const linears = units.filter((u) => u.what === 'linear');
  if (blocks.length === 0) {
    problems.push(linears.length === 0 ? 'it holds no Linear layers' : 'it holds no ResidualBlock (linear1/linear2), only plain Linears');
  }
  units.forEach((u, i) => {
    const next = units[i + 1];
    if (u.what !== 'linear' || !next) return;
    if (next.what === 'linear') problems.push(`${quoted(u)} and ${quoted(next)} are plain Linears in a row, with nothing recorded between them (a ReLU?)`);
    else if (next.what === 'block') problems.push(`${quoted(u)} is a Linear before a residual block (followed by a ReLU?)`);
  });
  return problems;
}

/** The manifest the file most likely means: plain Linears followed by a ReLU, BatchNorms folded into the Linear before. */
function likelyManifest(units: Unit[], tensors: TensorMap): GraphManifest | null {
  const layers: ManifestLayer[] = [];
  for (const u of units) {
    const last = layers[layers.length - 1];
    if (u.layer) layers.push({ ...u.layer, ...(u.layer.type === 'linear' ? { activation: 'relu' as const } : {}) });
    else if (u.what === 'batchnorm' && last?.type === 'linear' && !last.bn) last.bn = u.prefix;
    else return null;
  }
  const tail = layers[layers.length - 1];
  if (!tail) return null;
  if (tail.type === 'linear') tail.activation = 'none';
  const first = layers[0]!;
  const input = tensors.get(`${first.type === 'linear' ? first.linear : first.linear1}.weight`)?.shape[1];
  if (input === undefined) return null;
  return { format: 'resgpu-graph', version: 1, input, layers: layers.map(withoutNulls) };
}

function withoutNulls(layer: ManifestLayer): ManifestLayer {
  return Object.fromEntries(Object.entries(layer).filter(([, v]) => v !== null)) as unknown as ManifestLayer;
}

/** Two Linears named by one parent (blocks.0.fc1, blocks.0.fc2) may be a residual block under other names. */
function blockHint(units: Unit[]): string {
  const byParent = new Map<string, string[]>();
  for (const u of units) {
    if (u.what !== 'linear' || !u.prefix.includes('.')) continue;
    const parent = u.prefix.slice(0, u.prefix.lastIndexOf('.'));
    (byParent.get(parent) ?? byParent.set(parent, []).get(parent)!).push(u.prefix);
  }
  const pair = [...byParent.values()].find((l) => l.length === 2);
  if (!pair) return '';
  return (
    ` If "${pair[0]}" and "${pair[1]}" form a residual block, describe each such block as ` +
    `{ "type": "residual_block", "linear1": "${pair[0]}", "linear2": "${pair[1]}" } instead.`
  );
}

function refusal(problems: string[], units: Unit[], modules: Map<string, Module>, tensors: TensorMap): string {
  const likely = likelyManifest(units, tensors);
  const shown = likely ? JSON.stringify(likely) : null;
  const bnHint = units.find((u) => u.what === 'batchnorm');
  return (
    `Cannot infer the graph of this state_dict: ${problems.slice(0, 6).join('; ')}${problems.length > 6 ? `; and ${problems.length - 6} more` : ''}. ` +
    'A state_dict records parameters but not parameter-free modules (ReLU, Dropout, Identity), so resgpu does not guess them. ' +
    (shown && shown.length <= 4000
      ? `If each plain Linear but the last is followed by a ReLU${bnHint ? ' (and each BatchNorm belongs to the Linear before it)' : ''}, ` +
        `pass this graph: loadModel({ weights, graph: ${shown} }).`
      : `Pass the graph explicitly: loadModel({ weights, graph }) with a resgpu-graph manifest (see README); ${modules.size} modules.`) +
    blockHint(units) +
    ' Or save the model with tools/export_resgpu.py, or export it with torch.onnx.export: both record the whole graph.'
  );
}

function describeParent(parent: string): string {
  return parent === '' ? 'the top level' : `"${parent}"`;
}

function list(numbers: number[]): string {
  return numbers.length > 8 ? `${numbers.slice(0, 8).join(', ')}, …` : numbers.join(', ');
}
