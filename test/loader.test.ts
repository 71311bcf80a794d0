import { describe, expect, test } from 'vitest';
import { encodeSafetensors, GraphError, loadModel, ModelFormatError, ResgpuError } from '../src/index.js';
import { decodeFloats } from '../src/loader/dtype.js';
import { parseManifest } from '../src/loader/manifest.js';
import { parseSafetensors } from '../src/loader/safetensors.js';
import { makeRandomModel } from './helpers/random-model.js';

/** A safetensors file from a header object and a data section, with no validation. */
function rawFile(header: unknown, data = new Uint8Array(0), lengthField?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const file = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(file.buffer).setBigUint64(0, lengthField ?? BigInt(json.byteLength), true);
  file.set(json, 8);
  file.set(data, 8 + json.byteLength);
  return file;
}

const cpu = { backend: 'cpu' } as const;

describe('safetensors', () => {
  test('round-trips tensors and metadata through the writer and the parser', () => {
    const w = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const d = Float64Array.from([0.1, 0.2]);
    const file = encodeSafetensors(
      [
        { name: 'w', shape: [2, 3], data: w },
        { name: 'd', shape: [2], data: d },
      ],
      { note: 'x' },
    );
    const { tensors, metadata } = parseSafetensors(file);
    expect(metadata).toEqual({ note: 'x' });
    expect(tensors.get('w')!.shape).toEqual([2, 3]);
    expect(Array.from(decodeFloats('F32', tensors.get('w')!.bytes, 'w'))).toEqual(Array.from(w));
    expect(Array.from(decodeFloats('F64', tensors.get('d')!.bytes, 'd'))).toEqual([0.1, 0.2]);
  });

  test('decodes F16 and BF16 bit patterns to their IEEE values', () => {
    const half = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x8000, 0x3555]).buffer);
    const f = decodeFloats('F16', half, 'h');
    expect(Array.from(f.slice(0, 6))).toEqual([1, -2, 65504, 2 ** -24, Infinity, -0]);
    expect(f[6]).toBeCloseTo(0.33325, 5);
    const bf = new Uint8Array(new Uint16Array([0x3f80, 0xc040, 0x0000]).buffer);
    expect(Array.from(decodeFloats('BF16', bf, 'b'))).toEqual([1, -3, 0]);
  });

  test('reads F32 data at an unaligned offset by copying it', () => {
    const bytes = new Uint8Array(9);
    new DataView(bytes.buffer).setFloat32(1, 2.5, true);
    expect(Array.from(decodeFloats('F32', bytes.subarray(1, 5), 't'))).toEqual([2.5]);
  });

  test('reads unaligned data of a Node Buffer (whose slice() is a view of its pool, not a copy)', () => {
    const pool = Buffer.alloc(17, 0xff);
    pool.writeFloatLE(-1.25, 3);
    pool.writeDoubleLE(0.1, 9);
    expect(Array.from(decodeFloats('F32', pool.subarray(3, 7), 't'))).toEqual([-1.25]);
    expect(Array.from(decodeFloats('F64', pool.subarray(9, 17), 't'))).toEqual([0.1]);
  });

  const malformed: [string, Uint8Array, RegExp][] = [
    ['a file shorter than the length field', new Uint8Array(5), /shorter than the 8-byte/],
    ['a header length past the end of the file', rawFile({}, new Uint8Array(0), 1000n), /header length 1000 runs past the end/],
    ['a huge header length', rawFile({}, new Uint8Array(0), 2n ** 63n), /header length 9223372036854775808 runs past the end of the 10-byte file/],
    ['a header that is not JSON', rawFile('{"a": '), /not valid JSON/],
    ['a header that is a JSON array', rawFile([1, 2]), /must be a JSON object/],
    ['an unknown dtype', rawFile({ t: { dtype: 'F24', shape: [1], data_offsets: [0, 3] } }, new Uint8Array(3)), /unknown dtype "F24"/],
    ['a byte range not matching shape × dtype', rawFile({ t: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(8)), /has 4 bytes, but shape \[2\] of F32 needs 8/],
    ['a byte range outside the data section', rawFile({ t: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(8)), /outside the 8-byte data section/],
    ['inverted offsets', rawFile({ t: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, new Uint8Array(8)), /outside/],
    ['a negative shape', rawFile({ t: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }), /invalid shape/],
    ['metadata that is not strings', rawFile({ __metadata__: { a: 1 } }), /__metadata__\["a"\] is not a string/],
  ];
  test.each(malformed)('rejects %s with a ModelFormatError', async (_, file, message) => {
    expect(() => parseSafetensors(file)).toThrow(message);
    await expect(loadModel(file, cpu)).rejects.toBeInstanceOf(ModelFormatError);
  });
});

describe('graph manifest', () => {
  const base = { format: 'resgpu-graph', version: 1, input: 4, layers: [{ type: 'linear', linear: 'fc' }] };

  test('fills defaults', () => {
    const m = parseManifest(JSON.stringify(base));
    if (m.version !== 1) throw new Error('expected a version-1 manifest');
    expect(m.batchnorm_eps).toBe(1e-5);
    expect(m.layers[0]).toEqual({ type: 'linear', linear: 'fc', bn: null, activation: 'none' });
  });

  const invalid: [string, unknown, RegExp][] = [
    ['a wrong format', { ...base, format: 'onnx' }, /"format" must be "resgpu-graph"/],
    ['a future version', { ...base, version: 3 }, /"version" 3 is not supported/],
    ['no layers', { ...base, layers: [] }, /non-empty array/],
    ['a bad input size', { ...base, input: 0 }, /"input" must be a positive integer/],
    ['an unknown layer type', { ...base, layers: [{ type: 'conv2d' }] }, /"conv2d" is unknown/],
    ['a block without linear2', { ...base, layers: [{ type: 'residual_block', linear1: 'a' }] }, /needs "linear2"/],
    ['an unknown activation', { ...base, layers: [{ type: 'linear', linear: 'fc', activation: 'gelu' }] }, /"relu" or "none"/],
    ['shortcut_bn without shortcut', { ...base, layers: [{ type: 'residual_block', linear1: 'a', linear2: 'b', shortcut_bn: 'c' }] }, /without "shortcut"/],
  ];
  test.each(invalid)('rejects %s', (_, manifest, message) => {
    expect(() => parseManifest(manifest)).toThrow(message);
  });
});

describe('graph resolution', () => {
  const model = makeRandomModel({ input: 6, blocks: [{ hidden: 5, bn: true }, { hidden: 4, out: 3, bn: true }], head: { out: 2 } });
  const withGraph = (edit: (layers: any[]) => void) => {
    const graph = structuredClone(model.manifest);
    edit(graph.layers);
    return { weights: model.bytes, graph };
  };
  const drop = (key: string) =>
    encodeSafetensors(model.tensors.filter((t) => t.name !== key), { 'resgpu.graph': JSON.stringify(model.manifest) });

  test('a separately given graph wins over the embedded one', async () => {
    const m = await loadModel(withGraph((l) => l.pop()), cpu);
    expect(m.outputSize).toBe(3);
  });

  const errors: [string, () => Parameters<typeof loadModel>[0], RegExp][] = [
    ['a missing tensor', () => drop('blocks.1.linear2.weight'), /needs tensor "blocks\.1\.linear2\.weight".*no such tensor/],
    ['a missing BatchNorm', () => withGraph((l) => (l[0].bn1 = 'nope')), /BatchNorm "nope".*no tensor "nope\.running_mean"/],
    ['BatchNorm without running stats', () => drop('blocks.0.bn1.running_var'), /no running statistics/],
    ['layers that do not chain', () => withGraph((l) => ([l[0], l[1]] = [l[1], l[0]])), /"blocks\.0\.linear1\.weight" has shape \[5, 6\].*needs \[5, 3\]/],
    ['an identity shortcut across a width change', () => withGraph((l) => (l[1].shortcut = l[1].shortcut_bn = null)), /identity shortcut needs the block's input width \(6\).*\(3\)/],
    ['linear2 fed the wrong width', () => withGraph((l) => (l[0].linear2 = 'blocks.1.linear2')), /"blocks\.1\.linear2\.weight" has shape \[3, 4\].*needs \[3, 5\]/],
    ['a BatchNorm of the wrong width', () => withGraph((l) => (l[0].bn1 = 'blocks.1.bn1')), /"blocks\.1\.bn1\.weight" has shape \[4\].*needs \[5\]/],
    ['a wrong input size', () => ({ weights: model.bytes, graph: { ...model.manifest, input: 7 } }), /has shape \[5, 6\].*needs \[5, 7\]/],
    ['no graph at all', () => encodeSafetensors(model.tensors), /no graph.*resgpu\.graph/],
  ];
  test.each(errors)('rejects %s with a GraphError naming the problem', async (_, source, message) => {
    const failure = loadModel(source(), cpu);
    await expect(failure).rejects.toBeInstanceOf(GraphError);
    await expect(failure).rejects.toThrow(message);
  });

  test('an integer tensor where floats are needed is refused by name', async () => {
    const tensors = model.tensors.map((t) =>
      t.name === 'head.bias' ? { name: t.name, shape: t.shape, dtype: 'I32', bytes: new Uint8Array(8) } : t,
    );
    const file = encodeSafetensors(tensors, { 'resgpu.graph': JSON.stringify(model.manifest) });
    await expect(loadModel(file, cpu)).rejects.toThrow(/"head\.bias" has dtype I32/);
  });

  test('every error is a ResgpuError with a code', async () => {
    const e = await loadModel(drop('head.weight'), cpu).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ResgpuError);
    expect((e as ResgpuError).code).toBe('GRAPH');
  });
});

test('errors carry their class name explicitly, so minified bundles keep it', async () => {
  const e = (await loadModel(new Uint8Array(3), cpu).catch((err: Error) => err)) as Error;
  expect(e.name).toBe('ModelFormatError');
});
