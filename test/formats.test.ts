import onnxProto from 'onnx-proto';
import { describe, expect, test } from 'vitest';
import { GraphError, loadModel, ModelFormatError, OptionError, ResgpuError } from '../src/index.js';
import { makeRandomModel } from './helpers/random-model.js';
import { torchFile } from './helpers/torch-cases.js';

/**
 * Format detection by content: each known format is recognised by its signature even when
 * broken, and the error speaks of that format; unknown content is named where it can be; files
 * users save by mistake (a whole pickled model, TorchScript) get the remedy. Plus the ONNX and
 * option leniencies decided as refusals.
 */
const { onnx } = onnxProto;
const cpu = { backend: 'cpu' } as const;

async function refusal(bytes: Uint8Array, options = cpu): Promise<ResgpuError> {
  const e = await loadModel(bytes, options).then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(ResgpuError);
  expect(e).not.toBeInstanceOf(TypeError);
  return e as ResgpuError;
}

function withLength(length: bigint, rest: string): Uint8Array {
  const json = new TextEncoder().encode(rest);
  const file = new Uint8Array(8 + json.byteLength);
  new DataView(file.buffer).setBigUint64(0, length, true);
  file.set(json, 8);
  return file;
}

describe('recognised by content, reported as what it is', () => {
  const random = Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24);
  const hdf5 = new Uint8Array(2048);
  hdf5.set([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
  const cases: [string, () => Uint8Array, RegExp][] = [
    ['an empty file', () => new Uint8Array(0), /The model file is empty \(0 bytes\)/],
    ['a safetensors header length past the end', () => withLength(5000n, '{"a": 1}'), /Truncated or corrupt safetensors file: its header length 5000 runs past the end/],
    // A length of 4 GiB or more (bytes 4 to 8 not zero) was "not a model file resgpu reads" (issue 16).
    ['a safetensors header length past 4 GiB', () => withLength(2n ** 40n + 7n, '{"a": 1}'), /Truncated or corrupt safetensors file: its header length 1099511627783 runs past the end of the 16-byte file/],
    ['a safetensors header length of all ones', () => withLength(2n ** 64n - 1n, '{}'), /its header length 18446744073709551615 runs past the end of the 10-byte file/],
    ['a safetensors file cut in its data', () => makeRandomModel({ input: 4, blocks: [{ hidden: 4 }] }).bytes.slice(0, -10), /safetensors.*the file is truncated/],
    ['an HDF5 (Keras) file', () => hdf5, /Not a model file resgpu reads: this looks like an HDF5 file \(a Keras \.h5 model\?\)/],
    ['random bytes', () => random, /Not a model file resgpu reads: expected \.safetensors, a torch\.save zip, or ONNX.*starts with bytes/],
    ['a bare pickle', () => Uint8Array.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e, ...new Array(20).fill(0)]), /looks like a bare Python pickle/],
    ['JSON text', () => new TextEncoder().encode('{"format": "resgpu-graph", "version": 1, "input": 3}'), /looks like JSON text.*loadModel\(\{ weights, graph \}\)/],
    ['a truncated .pt', () => torchFile('bad/truncated_zip.pt'), /The PyTorch file is truncated/],
    ['a .pt without its central directory', () => torchFile('hostile/no_central_directory.pt'), /The PyTorch file is truncated \(or not a complete zip archive\)/],
    ['a .pt with the zip encryption flag', () => torchFile('hostile/encrypted.pt'), /zip entry "[^"]+" is encrypted/],
  ];
  test.each(cases)('%s', async (_, bytes, message) => {
    const e = await refusal(bytes());
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.message).toMatch(message);
  });
});

describe('files saved by mistake get the remedy', () => {
  test('a whole pickled model (torch.save(model))', async () => {
    const e = await refusal(torchFile('hostile/whole_model.pt'));
    expect(e.message).toMatch(/whole pickled model \(torch\.save\(model\).*"torch\.nn\.modules\.container\.Sequential"/);
    expect(e.message).toMatch(/torch\.save\(model\.state_dict\(\), path\).*tools\/export_resgpu\.py.*torch\.onnx\.export/);
  });
  test('a TorchScript file (torch.jit.save)', async () => {
    const e = await refusal(torchFile('hostile/torchscript.pt'));
    expect(e.message).toMatch(/This is a TorchScript file \(torch\.jit\.save.*torch\.save\(model\.state_dict\(\), path\)/);
  });
});

describe('ONNX leniencies refused', () => {
  const base = () => onnx.ModelProto.decode(torchFile('one_block_projection_odd.opset13.onnx'));
  const encode = (m: onnxProto.onnx.ModelProto) => onnx.ModelProto.encode(m).finish();
  test('duplicate initializers', async () => {
    const m = base();
    m.graph!.initializer!.push(m.graph!.initializer![0]!);
    expect((await refusal(encode(m))).message).toMatch(/two initializers are named/);
  });
  test('a Gemm bias of shape [N, 1] (per row, not per column)', async () => {
    const m = base();
    const gemm = m.graph!.node!.find((n) => n.opType === 'Gemm' && n.input!.length === 3)!;
    const c = m.graph!.initializer!.find((t) => t.name === gemm.input![2])!;
    c.dims = [c.dims![0]!, 1];
    const e = await refusal(encode(m));
    expect(e).toBeInstanceOf(GraphError);
    expect(e.message).toMatch(/bias of shape \[\d+, 1\].*one value per output column/);
  });
  test.each([
    ['a negative offset', '-8'],
    ['a fractional offset', '2.5'],
    ['an offset past the file', '1000000'],
  ])('external data at %s', async (_, offset) => {
    const m = base();
    const t = m.graph!.initializer!.find((x) => x.dims!.length === 2)!;
    const bytes = t.rawData!;
    t.rawData = new Uint8Array(0);
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.externalData = [onnx.StringStringEntryProto.create({ key: 'location', value: 'w.bin' }), onnx.StringStringEntryProto.create({ key: 'offset', value: offset })];
    const external = new Uint8Array(bytes.byteLength + 64);
    const e = await loadModel({ model: encode(m), externalData: { 'w.bin': external } }, cpu).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ModelFormatError);
    expect((e as Error).message).toMatch(/offsets and lengths must be whole, non-negative and inside the file/);
  });
  test('externalData: null is a typed error, not a TypeError', async () => {
    const e = await loadModel({ model: encode(base()), externalData: null as never }, cpu).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ModelFormatError);
  });
});

test.each([NaN, 0, -1, 2.5, Infinity])('maxCachedPlans: %s is an OptionError', async (n) => {
  const { bytes } = makeRandomModel({ input: 4, blocks: [{ hidden: 4 }] });
  await expect(loadModel(bytes, { ...cpu, maxCachedPlans: n })).rejects.toBeInstanceOf(OptionError);
});
