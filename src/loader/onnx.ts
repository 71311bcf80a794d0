import onnxProto from 'onnx-proto';
import { GraphError, ModelFormatError } from '../errors.js';
import type { GraphManifest, ManifestLayer } from './manifest.js';
import type { RawTensor, TensorMap } from './tensors.js';

/**
 * ONNX models of residual MLPs, as torch.onnx.export writes them (opsets 11 to 17), rewritten
 * onto the same layers as a native model: Gemm / MatMul + Add become linears, BatchNormalization
 * is kept beside its linear (folded at upload like any other), Relu and the residual Add are
 * absorbed into the block, and Identity, Dropout, 2-D Flatten / Reshape disappear. Anything
 * else fails with the op types and node names that stand in the way.
 */
const { onnx } = onnxProto;
type Node = onnxProto.onnx.INodeProto;
type Tensor = onnxProto.onnx.ITensorProto;

/** An activation value of the graph, as an expression over the model input. */
type Expr =
  | { op: 'input'; width: number }
  | { op: 'dense'; src: Expr; width: number; linear: string; hasBias: boolean; bn: string | null; relu: boolean; node: string }
  | { op: 'add'; a: Expr; b: Expr; width: number; node: string }
  | { op: 'relu'; src: Expr; width: number; node: string };

export interface OnnxModel {
  tensors: TensorMap;
  manifest: GraphManifest;
}

const DTYPES: Record<number, [string, number]> = { 1: ['F32', 4], 10: ['F16', 2], 11: ['F64', 8], 16: ['BF16', 2], 7: ['I64', 8], 6: ['I32', 4] };

const num = (v: number | { toNumber(): number } | null | undefined): number => (typeof v === 'number' ? v : v ? v.toNumber() : 0);

function decodeModel(bytes: Uint8Array) {
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new ModelFormatError(`Malformed ONNX file: the protobuf could not be decoded (${(e as Error).message}).`);
  }
}

function rawTensor(t: Tensor, external: Map<string, Uint8Array>): RawTensor {
  const name = t.name ?? '';
  const [dtype, size] = DTYPES[t.dataType ?? 0] ?? [];
  if (!dtype || !size) throw new GraphError(`ONNX initializer "${name}" has data type ${t.dataType}; resgpu reads float, double, float16, bfloat16 and int64.`);
  const shape = (t.dims ?? []).map(num);
  const count = shape.reduce((n, d) => n * d, 1);
  let bytes: Uint8Array;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    const info = Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
    const file = external.get(info.location ?? '');
    if (!file) {
      throw new ModelFormatError(
        `ONNX initializer "${name}" is stored in the external file "${info.location}"; pass it: ` +
          `loadModel({ model, externalData: { "${info.location}": <its URL or bytes> } }).`,
      );
    }
    const offset = Number(info.offset ?? 0);
    bytes = file.subarray(offset, info.length ? offset + Number(info.length) : offset + count * size);
  } else if (t.rawData && t.rawData.byteLength > 0) {
    bytes = t.rawData;
  } else if (dtype === 'F32') {
    bytes = new Uint8Array(Float32Array.from(t.floatData ?? []).buffer);
  } else if (dtype === 'F64') {
    bytes = new Uint8Array(Float64Array.from(t.doubleData ?? []).buffer);
  } else if (dtype === 'F16' || dtype === 'BF16') {
    bytes = new Uint8Array(Uint16Array.from(t.int32Data ?? []).buffer); // 16-bit floats travel in int32_data
  } else if (dtype === 'I64') {
    bytes = new Uint8Array(BigInt64Array.from((t.int64Data ?? []).map((v) => BigInt(num(v)))).buffer);
  } else {
    bytes = new Uint8Array(Int32Array.from(t.int32Data ?? []).buffer);
  }
  if (bytes.byteLength !== count * size) {
    throw new ModelFormatError(`Malformed ONNX file: initializer "${name}" has ${bytes.byteLength} bytes, but shape [${shape.join(', ')}] needs ${count * size}.`);
  }
  return { name, dtype, shape, bytes };
}

function floats(t: RawTensor): Float64Array {
  const v = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  const n = t.shape.reduce((a, d) => a * d, 1);
  if (t.dtype === 'F32') return Float64Array.from({ length: n }, (_, i) => v.getFloat32(4 * i, true));
  if (t.dtype === 'F64') return Float64Array.from({ length: n }, (_, i) => v.getFloat64(8 * i, true));
  if (t.dtype === 'I64') return Float64Array.from({ length: n }, (_, i) => Number(v.getBigInt64(8 * i, true)));
  throw new GraphError(`ONNX tensor "${t.name}" is ${t.dtype}; resgpu rewrites Gemm/MatMul weights of float or double only.`);
}

const f64Tensor = (name: string, shape: number[], data: Float64Array): RawTensor => ({ name, dtype: 'F64', shape, bytes: new Uint8Array(data.buffer) });

export function parseOnnx(bytes: Uint8Array, external: Map<string, Uint8Array>): OnnxModel {
  const model = decodeModel(bytes);
  const graph = model.graph;
  if (!graph) throw new ModelFormatError('Malformed ONNX file: the model has no graph.');
  const init = new Map<string, RawTensor>();
  for (const t of graph.initializer ?? []) init.set(t.name ?? '', rawTensor(t, external));
  const inputs = (graph.input ?? []).filter((i) => !init.has(i.name ?? ''));
  const problems: string[] = [];
  if (inputs.length !== 1) problems.push(`${inputs.length} graph inputs (${inputs.map((i) => i.name).join(', ')}); resgpu runs models with one`);
  const dims = inputs[0]?.type?.tensorType?.shape?.dim ?? [];
  const width = num(dims[1]?.dimValue);
  if (inputs.length === 1 && (dims.length !== 2 || !(width > 0))) problems.push(`input "${inputs[0]!.name}" is not [batch, features] with fixed features`);

  const tensors: TensorMap = new Map();
  const values = new Map<string, Expr>();
  if (inputs[0]) values.set(inputs[0].name ?? '', { op: 'input', width });
  let eps: number | null = null;
  let count = 0;
  const attr = (n: Node, name: string, fallback: number) => {
    const a = (n.attribute ?? []).find((x) => x.name === name);
    return a ? (a.type === onnx.AttributeProto.AttributeType.FLOAT ? a.f ?? 0 : num(a.i)) : fallback;
  };
  const activation = (n: Node, i = 0) => values.get(n.input?.[i] ?? '');
  const constant = (n: Node, i: number) => init.get(n.input?.[i] ?? '');
  const alias = (n: Node, to: Expr | undefined, t: RawTensor | undefined) => {
    const out = n.output?.[0] ?? '';
    if (to) values.set(out, to);
    else if (t) init.set(out, t);
    return Boolean(to || t);
  };
  /** `w` is [out, in]: the initializer itself when it already is (no copy), else a rewritten float64 copy. */
  const dense = (n: Node, src: Expr, w: RawTensor | Float64Array, out: number, inF: number, bias: Float64Array | null): Expr => {
    const p = `onnx.${count++}`;
    tensors.set(`${p}.weight`, w instanceof Float64Array ? f64Tensor(`${p}.weight`, [out, inF], w) : { ...w, name: `${p}.weight` });
    if (bias) tensors.set(`${p}.bias`, f64Tensor(`${p}.bias`, [out], bias));
    return { op: 'dense', src, width: out, linear: p, hasBias: Boolean(bias), bn: null, relu: false, node: n.name ?? n.opType ?? '' };
  };
  /** [in, out] (MatMul, Gemm with transB = 0) → [out, in], times alpha. */
  const transposed = (t: RawTensor, alpha: number) => {
    const [inF, out] = t.shape as [number, number];
    const v = floats(t);
    return Float64Array.from({ length: inF * out }, (_, k) => v[(k % inF) * out + Math.floor(k / inF)]! * alpha);
  };

  for (const n of graph.node ?? []) {
    const what = `${n.opType} (${n.name || n.output?.[0]})`;
    const src = activation(n);
    let ok = true;
    switch (n.opType) {
      case 'Identity':
      case 'Dropout':
        ok = alias(n, src, constant(n, 0));
        break;
      case 'Flatten':
        ok = attr(n, 'axis', 1) === 1 && alias(n, src, undefined);
        break;
      case 'Reshape': {
        const target = constant(n, 1) && floats(constant(n, 1)!);
        ok = !!src && !!target && target.length === 2 && [-1, 0].includes(target[0]!) && target[1] === src.width && alias(n, src, undefined);
        break;
      }
      case 'Constant': {
        const t = (n.attribute ?? []).find((a) => a.name === 'value')?.t;
        ok = !!t && alias(n, undefined, rawTensor({ ...t, name: n.output?.[0] ?? '' }, external));
        break;
      }
      case 'Gemm': {
        const b = constant(n, 1);
        const c = n.input?.[2] ? constant(n, 2) : undefined;
        if (!src || !b || b.shape.length !== 2 || attr(n, 'transA', 0) !== 0 || (n.input?.[2] && !c)) {
          ok = false;
          if (!b && n.input?.[1]) problems.push(`${what} reads "${n.input[1]}", which is neither an initializer nor a constant`);
          if (attr(n, 'transA', 0) !== 0) problems.push(`${what} has transA=1, which resgpu does not handle`);
          break;
        }
        const alpha = attr(n, 'alpha', 1);
        const beta = attr(n, 'beta', 1);
        const transB = attr(n, 'transB', 0) !== 0;
        const [out, inF] = transB ? (b.shape as [number, number]) : [b.shape[1]!, b.shape[0]!];
        const w = transB ? (alpha === 1 ? b : floats(b).map((x) => x * alpha)) : transposed(b, alpha);
        let bias: Float64Array | null = null;
        if (c) {
          const cv = floats(c);
          if (cv.length !== 1 && cv.length !== out) {
            problems.push(`${what} has a bias of ${cv.length} values for ${out} outputs`);
            break;
          }
          bias = Float64Array.from({ length: out }, (_, o) => beta * cv[cv.length === 1 ? 0 : o]!);
        }
        ok = inF === src.width && alias(n, dense(n, src, w, out, inF, bias), undefined);
        if (inF !== src.width) problems.push(`${what} takes ${inF} features but is fed ${src.width}`);
        break;
      }
      case 'MatMul': {
        const b = constant(n, 1);
        ok = !!src && !!b && b.shape.length === 2 && b.shape[0] === src.width;
        if (ok) alias(n, dense(n, src!, transposed(b!, 1), b!.shape[1]!, b!.shape[0]!, null), undefined);
        break;
      }
      case 'Add': {
        const [a, b] = [activation(n, 0), activation(n, 1)];
        const c = constant(n, 0) ?? constant(n, 1);
        const d = a ?? b;
        if (a && b) ok = alias(n, { op: 'add', a, b, width: a.width, node: n.name ?? '' }, undefined);
        else if (d?.op === 'dense' && !d.hasBias && !d.bn && !d.relu && c && [1, d.width].includes(c.shape.reduce((x, y) => x * y, 1))) {
          // MatMul + Add: the bias of the linear before it.
          const cv = floats(c);
          const bias = Float64Array.from({ length: d.width }, (_, o) => cv[cv.length === 1 ? 0 : o]!);
          tensors.set(`${d.linear}.bias`, f64Tensor(`${d.linear}.bias`, [d.width], bias));
          ok = alias(n, { ...d, hasBias: true }, undefined);
        } else ok = false;
        break;
      }
      case 'BatchNormalization': {
        const params = [1, 2, 3, 4].map((i) => constant(n, i));
        ok = src?.op === 'dense' && !src.bn && !src.relu && params.every((p) => p) && attr(n, 'training_mode', 0) === 0;
        if (!ok) break;
        const e = attr(n, 'epsilon', 1e-5);
        if (eps !== null && Math.abs(e - eps) > 1e-12) problems.push(`${what} has epsilon ${e}, another BatchNormalization ${eps}; resgpu needs one epsilon`);
        eps = e;
        const d = src as Extract<Expr, { op: 'dense' }>;
        const p = `${d.linear}_bn`;
        ['weight', 'bias', 'running_mean', 'running_var'].forEach((k, i) => tensors.set(`${p}.${k}`, { ...params[i]!, name: `${p}.${k}` }));
        alias(n, { ...d, bn: p }, undefined);
        break;
      }
      case 'Relu':
        if (src?.op === 'dense') ok = alias(n, { ...src, relu: true }, undefined);
        else if (src?.op === 'add') ok = alias(n, { op: 'relu', src, width: src.width, node: n.name ?? '' }, undefined);
        else ok = src?.op === 'relu' && alias(n, src, undefined);
        break;
      default:
        ok = false;
    }
    if (!ok) problems.push(`${what} is not supported here`);
  }

  const outputs = graph.output ?? [];
  if (outputs.length !== 1) problems.push(`${outputs.length} graph outputs; resgpu runs models with one`);
  const result = values.get(outputs[0]?.name ?? '');
  if (problems.length === 0 && !result) problems.push(`the output "${outputs[0]?.name}" is not computed from the input by supported ops`);
  const layers = problems.length === 0 ? toLayers(result!, problems) : [];
  if (problems.length > 0) {
    throw new GraphError(`This ONNX graph cannot run on resgpu: ${[...new Set(problems)].join('; ')}.`);
  }
  return {
    tensors,
    manifest: {
      format: 'resgpu-graph',
      version: 1,
      input: width,
      layers,
      batchnorm_eps: eps ?? 1e-5,
      input_names: [inputs[0]!.name ?? ''],
      output_names: [outputs[0]!.name ?? ''],
    },
  };
}

/** Reads the expression back as layers, from the input on. */
function toLayers(e: Expr, problems: string[]): ManifestLayer[] {
  const out: ManifestLayer[] = [];
  for (let cur = e; cur.op !== 'input'; ) {
    if (cur.op === 'dense') {
      out.unshift({ type: 'linear', linear: cur.linear, bn: cur.bn, activation: cur.relu ? 'relu' : 'none' });
      cur = cur.src;
      continue;
    }
    const block = cur.op === 'relu' && cur.src.op === 'add' ? matchBlock(cur.src.a, cur.src.b) ?? matchBlock(cur.src.b, cur.src.a) : null;
    if (!block) {
      problems.push(`the graph does not reduce to linear layers and residual blocks (at node ${cur.node})`);
      return [];
    }
    out.unshift(block.layer);
    cur = block.input;
  }
  return out;
}

/** relu(main + shortcut) with main = dense2(relu(dense1(x))) and shortcut = x or dense(x). */
function matchBlock(main: Expr, shortcut: Expr): { layer: ManifestLayer; input: Expr } | null {
  if (main.op !== 'dense' || main.relu || main.src.op !== 'dense' || !main.src.relu) return null;
  const h = main.src;
  const x = h.src;
  const projection = shortcut.op === 'dense' && !shortcut.relu && shortcut.src === x ? shortcut : null;
  if (shortcut !== x && !projection) return null;
  return {
    input: x,
    layer: {
      type: 'residual_block',
      linear1: h.linear,
      bn1: h.bn,
      linear2: main.linear,
      bn2: main.bn,
      shortcut: projection?.linear ?? null,
      shortcut_bn: projection?.bn ?? null,
    },
  };
}
