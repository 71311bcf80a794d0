import { unzipSync, zipSync } from 'fflate';
import onnxProto from 'onnx-proto';

/**
 * Mutations of valid model files, blind and grammar-aware. Blind ones (bit flips, byte sets,
 * truncation, splices, insertions, deletions, lying length fields) test that no byte pattern
 * escapes the parsers' checks; grammar-aware ones rebuild a well-formed container around a
 * mutated part (the pickle inside a zip, a zip header field, the safetensors JSON header, an
 * ONNX protobuf, a graph manifest) so the mutation reaches the checks behind the first ones.
 */
export type Rng = () => number;

const pick = <T>(r: Rng, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;
const int = (r: Rng, n: number) => Math.floor(r() * n);

/** Numbers that break size arithmetic: zero, one, sign and width edges, the file's own length. */
function interesting(r: Rng, length: number): number {
  return pick(r, [0, 1, 2, 7, 8, 255, 256, 65535, 0x7fffffff, 0x80000000, 0xffffffff, length, length - 1, length + 1, length * 2, int(r, 1 << 20)]);
}

export function blind(bytes: Uint8Array, r: Rng, hot = bytes.length): Uint8Array {
  let out: Uint8Array = bytes.slice();
  const edits = 1 + int(r, 4);
  for (let e = 0; e < edits && out.length > 0; e++) {
    const kind = int(r, 8);
    const p = int(r, r() < 0.8 ? Math.min(hot, out.length) : out.length); // within what is left after earlier edits
    if (kind === 0) out[p] = out[p]! ^ (1 << int(r, 8));
    else if (kind === 1) out[p] = int(r, 256);
    else if (kind === 2) out = out.slice(0, int(r, out.length));
    else if (kind === 3) {
      const from = int(r, out.length);
      const n = Math.min(1 + int(r, 64), out.length - from, out.length - p);
      out.set(out.slice(from, from + n), p);
    } else if (kind === 4) out = concat(out.subarray(0, p), Uint8Array.from({ length: 1 + int(r, 16) }, () => int(r, 256)), out.subarray(p));
    else if (kind === 5) out = concat(out.subarray(0, p), out.subarray(Math.min(out.length, p + 1 + int(r, 32))));
    else if (kind === 6 && p + 4 <= out.length) new DataView(out.buffer).setUint32(p, interesting(r, out.length), true);
    else if (kind === 7 && p + 8 <= out.length) new DataView(out.buffer).setBigUint64(p, BigInt(interesting(r, out.length)), true);
  }
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

/** A torch.save zip: mutate its pickle (by opcode-aware edits or blind), or one zip header field, or drop or duplicate an entry. */
export function mutatePt(bytes: Uint8Array, r: Rng): Uint8Array {
  const choice = r();
  if (choice < 0.3) return blind(bytes, r, 4096);
  if (choice < 0.45) return zipHeaderField(bytes, r);
  const files: Record<string, Uint8Array> = unzipSync(bytes);
  const names = Object.keys(files);
  const pkl = names.find((n) => n.endsWith('data.pkl'))!;
  if (choice < 0.8) files[pkl] = mutatePickle(files[pkl]!, r);
  else if (choice < 0.9) delete files[pick(r, names)];
  else {
    const victim = pick(r, names.filter((n) => n.includes('/data/')));
    if (victim) files[victim] = blind(files[victim]!, r);
  }
  return zipSync(Object.fromEntries(Object.entries(files).map(([n, d]) => [n, [d, { level: r() < 0.1 ? 6 : 0 }]])));
}

const PICKLE_OPS = [0x28, 0x29, 0x2e, 0x30, 0x32, 0x4a, 0x4b, 0x4d, 0x51, 0x52, 0x58, 0x5d, 0x61, 0x62, 0x65, 0x68, 0x6a, 0x71, 0x72, 0x73, 0x74, 0x75, 0x7d, 0x85, 0x86, 0x87, 0x8a, 0x8c, 0x93, 0x94];

function mutatePickle(pkl: Uint8Array, r: Rng): Uint8Array {
  const out = pkl.slice();
  const edits = 1 + int(r, 3);
  for (let e = 0; e < edits; e++) {
    const p = int(r, out.length);
    const kind = int(r, 4);
    if (kind === 0) out[p] = pick(r, PICKLE_OPS);
    else if (kind === 1 && out[p] === 0x4b && p + 1 < out.length) out[p + 1] = pick(r, [0, 1, 255]); // BININT1 arguments: offsets, dims, strides
    else if (kind === 2) {
      const i = out.indexOf(0x4a, p); // BININT: make it negative or huge
      if (i >= 0 && i + 5 <= out.length) new DataView(out.buffer).setInt32(i + 1, pick(r, [-1, -4, 0x7fffffff, 1 << 24]), true);
    } else out[p] = int(r, 256);
  }
  return out;
}

/** One field of a local or central zip header: sizes, offsets, flags, method, name length. */
function zipHeaderField(bytes: Uint8Array, r: Rng): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  const signatures: number[] = [];
  for (let i = 0; i + 4 <= out.length; i++) if (out[i] === 0x50 && out[i + 1] === 0x4b && out[i + 2]! < 8) signatures.push(i);
  const at = pick(r, signatures);
  if (at === undefined) return out;
  const offset = pick(r, [6, 8, 10, 14, 18, 22, 26, 28, 30, 34, 42]);
  if (at + offset + 4 > out.length) return out;
  if (r() < 0.5) view.setUint16(at + offset, interesting(r, out.length) & 0xffff, true);
  else view.setUint32(at + offset, interesting(r, out.length), true);
  return out;
}

/** A safetensors file: mutate the JSON header's entries or the graph in its metadata, then re-encode with a right (or lying) length. */
export function mutateSafetensors(bytes: Uint8Array, r: Rng): Uint8Array {
  if (r() < 0.3) return blind(bytes, r, 4096);
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, Record<string, unknown>>;
  const data = bytes.subarray(8 + n);
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const entry = header[pick(r, names)]!;
  const kind = int(r, 8);
  if (kind === 0) entry.dtype = pick(r, ['F32', 'F16', 'BF16', 'F64', 'I64', 'U8', 'BOOL', 'F8_E4M3', 'X']);
  else if (kind === 1) entry.shape = (entry.shape as number[]).map((d) => (r() < 0.5 ? pick(r, [0, 1, d + 1, d * 2, -1, 2 ** 53]) : d));
  else if (kind === 2) entry.data_offsets = (entry.data_offsets as number[]).map((o) => (r() < 0.5 ? pick(r, [0, o + 4, o - 4, -1, 2 ** 40, 0.5]) : o));
  else if (kind === 3) delete header[pick(r, names)];
  else if (kind === 4) header[`${pick(r, names)}x`] = { ...entry };
  else if (kind === 5 && header.__metadata__) header.__metadata__['resgpu.graph'] = JSON.stringify(mutateManifest(JSON.parse(String(header.__metadata__['resgpu.graph'])), r));
  else if (kind === 6) entry.shape = [...(entry.shape as number[])].reverse();
  else delete header.__metadata__;
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(r() < 0.1 ? interesting(r, out.length) : json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** A graph manifest: its structure mutated (layer types, prefixes, sizes, missing or wrong-typed fields, repeated layers). */
export function mutateManifest(manifest: Record<string, unknown>, r: Rng): Record<string, unknown> {
  if (manifest.version === 2) return mutateManifestV2(manifest, r);
  const m = structuredClone(manifest) as Record<string, unknown> & { layers: Record<string, unknown>[] };
  const edits = 1 + int(r, 3);
  for (let e = 0; e < edits; e++) {
    const layer = m.layers.length > 0 ? pick(r, m.layers) : undefined;
    const kind = int(r, 10);
    if (kind === 0) m.input = pick(r, [0, -1, 1, 2.5, '30', null, 1e9, (m.input as number) + 1]);
    else if (kind === 1 && layer) layer.type = pick(r, ['linear', 'residual_block', 'conv', null]);
    else if (kind === 2 && layer) layer[pick(r, Object.keys(layer))] = pick(r, [null, '', 'head', 'blocks.0.linear1', 'nope', 3, []]);
    else if (kind === 3 && layer) delete layer[pick(r, Object.keys(layer))];
    else if (kind === 4) m.layers.splice(int(r, m.layers.length), 1);
    else if (kind === 5 && layer) m.layers.push(...Array.from({ length: 1 + int(r, 3) }, () => structuredClone(layer)));
    else if (kind === 6) m.batchnorm_eps = pick(r, [-1, 0, 1e30, 'x', null]);
    else if (kind === 7) m.version = pick(r, [0, 2, '1']);
    else if (kind === 8 && layer) layer.activation = pick(r, ['relu', 'gelu', null, 1]);
    else m.layers = m.layers.slice().reverse();
  }
  return m;
}

/**
 * A version-2 manifest (the op graph): ops, value names (a node reading its own output, a later
 * value, nothing), tensor roles and names, attributes (eps, activation fns, slopes), the input
 * shape, nodes dropped, duplicated, moved or reversed (use before definition).
 */
export function mutateManifestV2(manifest: Record<string, unknown>, r: Rng): Record<string, unknown> {
  type Node = { op?: unknown; inputs?: unknown; output?: unknown; params?: Record<string, unknown>; attrs?: Record<string, unknown>; name?: unknown };
  const m = structuredClone(manifest) as Record<string, unknown> & { nodes: Node[]; inputs: { shape: unknown }[] };
  const edits = 1 + int(r, 3);
  for (let e = 0; e < edits; e++) {
    const i = int(r, Math.max(1, m.nodes.length));
    const node = m.nodes[i];
    const other = m.nodes.length > 0 ? pick(r, m.nodes) : undefined;
    const kind = int(r, 14);
    if (!node) m.nodes = [];
    else if (kind === 0) node.op = pick(r, ['linear', 'batchnorm', 'layernorm', 'activation', 'add', 'dropout', 'identity', 'flatten', 'conv2d', 'softmax', '', null, 3]);
    else if (kind === 1) node.inputs = pick(r, [[node.output], [other?.output], [], ['x', 'x'], ['nope'], 'x', [m.nodes[m.nodes.length - 1]?.output]]);
    else if (kind === 2) node.output = pick(r, [other?.output, 'x', '', null, `${String(node.output)}'`]);
    else if (kind === 3 && node.params) {
      const role = pick(r, [...Object.keys(node.params), 'weight', 'bias', 'running_var', 'gamma']);
      node.params[role] = pick(r, [other?.params?.weight, 'nope', '', null, 7, node.params[role]]);
    } else if (kind === 4 && node.params) delete node.params[pick(r, Object.keys(node.params).concat('weight'))];
    else if (kind === 5) node.attrs = { ...node.attrs, [pick(r, ['eps', 'fn', 'negative_slope', 'approximate', 'p', 'axis'])]: pick(r, [-1, 0, 1e30, NaN, 'gelu', 'tanh', 'leaky_relu', 'none', 'swish', null, [1, 2], true]) };
    else if (kind === 6) m.nodes.splice(i, 1);
    else if (kind === 7) m.nodes.splice(i, 0, structuredClone(other!));
    else if (kind === 8) m.nodes = m.nodes.slice().reverse();
    else if (kind === 9) m.nodes.push(...m.nodes.splice(i, 1));
    else if (kind === 10) m.inputs[0]!.shape = pick(r, [[0], [-1], [1], [2 ** 30], [5, 5], [], 'x', [(m.inputs[0]!.shape as number[])[0]! + 1]]);
    else if (kind === 11) m.outputs = pick(r, [[other?.output], [], ['x'], ['nope'], 'y']);
    else if (kind === 12) m.version = pick(r, [1, 3, '2']);
    else m.nodes = Array.from({ length: pick(r, [2, 50, 20_001]) }, (_, k) => ({ ...structuredClone(node), output: `r${k}`, inputs: [k === 0 ? 'x' : `r${k - 1}`] }));
  }
  return m;
}

const { onnx } = onnxProto;

/** An ONNX model: mutate nodes, attributes, initializers or value infos through the protobuf schema, then re-encode. */
export function mutateOnnx(bytes: Uint8Array, r: Rng): Uint8Array {
  if (r() < 0.3) return blind(bytes, r, 2048);
  const m = onnx.ModelProto.decode(bytes);
  const g = m.graph!;
  const nodes = g.node!;
  const inits = g.initializer!;
  const kind = int(r, 10);
  const node = pick(r, nodes);
  const init = pick(r, inits);
  if (kind === 0) node.opType = pick(r, ['Gemm', 'MatMul', 'Add', 'Relu', 'Identity', 'Sigmoid', 'Reshape', 'BatchNormalization', 'Flatten', 'LeakyRelu', 'Tanh', 'Gelu', 'Erf', 'Mul', 'Div', 'Sub', 'Pow', 'Sqrt', 'ReduceMean', 'LayerNormalization', 'Constant']);
  else if (kind === 1 && node.attribute!.length > 0) {
    const a = pick(r, node.attribute!);
    a.i = pick(r, [0, 1, -1, 2]);
    a.f = pick(r, [0, -1, 1e30, NaN]);
  } else if (kind === 2) init.dims = init.dims!.map((d) => (r() < 0.5 ? pick(r, [0, 1, Number(d) + 1, -1]) : d));
  else if (kind === 3) init.dataType = pick(r, [0, 1, 2, 6, 7, 10, 11, 16, 99]);
  else if (kind === 4 && init.rawData) init.rawData = init.rawData.subarray(0, int(r, init.rawData.length));
  else if (kind === 5) nodes.splice(int(r, nodes.length), 1);
  else if (kind === 6) inits.push(init);
  else if (kind === 7) node.input = [...node.input!].reverse();
  else if (kind === 8) {
    init.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    init.externalData = [onnx.StringStringEntryProto.create({ key: 'location', value: 'x.bin' })];
  } else g.input = r() < 0.5 ? [] : [...g.input!, ...g.input!];
  return onnx.ModelProto.encode(m).finish();
}
