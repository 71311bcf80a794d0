import { describe, expect, test } from 'vitest';
import { encodeSafetensors, loadModel, ModelFormatError } from '../src/index.js';
import { parseSafetensors } from '../src/loader/safetensors.js';
import { makeRandomModel } from './helpers/random-model.js';

/**
 * The safetensors writer against an independent reader written here from the format's
 * specification (huggingface/safetensors README, and the checks its reference `validate` makes):
 * a u64 little-endian header size N; N bytes of UTF-8 JSON starting with '{', which may be
 * padded with trailing spaces; entries { dtype, shape, data_offsets: [begin, end] } relative to
 * the data section; sorted by offset they must tile the data section exactly: the first begins
 * at 0, each begins where the previous ended, the last ends at the end of the file; each spans
 * product(shape) × dtype size bytes. Debian packages no Python `safetensors` to check against.
 */
const SIZES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

function specReader(file: Uint8Array): Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }> {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  if (8 + n > file.byteLength) throw new Error('header too large');
  const text = new TextDecoder('utf-8', { fatal: true }).decode(file.subarray(8, 8 + n));
  if (!text.startsWith('{')) throw new Error('header does not start with {');
  const header = JSON.parse(text) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const data = file.subarray(8 + n);
  const entries = Object.entries(header).filter(([k]) => k !== '__metadata__');
  entries.sort(([, a], [, b]) => a.data_offsets[0] - b.data_offsets[0]);
  let expectedStart = 0;
  const out = new Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>();
  for (const [name, e] of entries) {
    const [begin, end] = e.data_offsets;
    if (begin !== expectedStart) throw new Error(`InvalidOffset: ${name} begins at ${begin}, expected ${expectedStart}`);
    if (end - begin !== e.shape.reduce((a, b) => a * b, 1) * SIZES[e.dtype]!) throw new Error(`TensorInvalidInfo: ${name}`);
    out.set(name, { dtype: e.dtype, shape: e.shape, bytes: data.subarray(begin, end) });
    expectedStart = end;
  }
  if (expectedStart !== data.byteLength) throw new Error(`MetadataIncompleteBuffer: ${expectedStart} of ${data.byteLength}`);
  return out;
}

describe('encodeSafetensors', () => {
  test('writes what a reader written from the specification reads: contiguous offsets, same bytes', () => {
    // Odd byte lengths (3 × F16, 1 × U8) would have been padded to 8 before the fix.
    const tensors = [
      { name: 'a', shape: [3], dtype: 'F16', bytes: new Uint8Array([1, 2, 3, 4, 5, 6]) },
      { name: 'b', shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) },
      { name: 'c', shape: [1], dtype: 'U8', bytes: new Uint8Array([9]) },
      { name: 'd', shape: [2], data: Float64Array.from([0.5, -0.25]) },
      { name: 'empty', shape: [0, 4], data: new Float32Array(0) },
    ];
    const file = encodeSafetensors(tensors, { note: 'x' });
    const read = specReader(file);
    expect([...read.keys()].sort()).toEqual(['a', 'b', 'c', 'd', 'empty']);
    expect(Array.from(read.get('a')!.bytes)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(read.get('c')!.bytes)).toEqual([9]);
    expect(new Float64Array(read.get('d')!.bytes.slice().buffer)[1]).toBe(-0.25);
    expect((8 + Number(new DataView(file.buffer).getBigUint64(0, true))) % 8).toBe(0); // data section 8-aligned
    // And our parser reads the same (unaligned F32/F64 views are copied, not misread).
    expect(Array.from(new Float32Array(parseSafetensors(file).tensors.get('b')!.bytes.slice().buffer))).toEqual([1, 2, 3, 4]);
  });

  test('a whole model written by it passes the specification reader and loads', async () => {
    const { bytes } = makeRandomModel({ input: 7, blocks: [{ hidden: 5, bn: true }], head: { out: 3 }, dtype: 'F16' });
    expect(specReader(bytes).size).toBeGreaterThan(5);
    const model = await loadModel(bytes, { backend: 'cpu' });
    expect(model.outputSize).toBe(3);
  });
});

describe('the parser refuses what the reference implementation refuses', () => {
  const file = (entries: Record<string, [number, number]>, dataBytes: number) => {
    const header: Record<string, unknown> = {};
    for (const [name, [b, e]] of Object.entries(entries)) header[name] = { dtype: 'U8', shape: [e - b], data_offsets: [b, e] };
    const json = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(8 + json.byteLength + dataBytes);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
    out.set(json, 8);
    return out;
  };
  test.each([
    ['a hole between tensors', file({ a: [0, 4], b: [8, 12] }, 12), /"b" starts at 8, leaving a hole after byte 4/],
    ['overlapping tensors', file({ a: [0, 8], b: [4, 12] }, 12), /"b" overlaps the tensor before it/],
    ['trailing bytes', file({ a: [0, 4] }, 10), /has 10 bytes but its tensors cover 4/],
  ])('%s', (_, bytes, message) => {
    expect(() => specReader(bytes)).toThrow();
    expect(() => parseSafetensors(bytes)).toThrow(ModelFormatError);
    expect(() => parseSafetensors(bytes)).toThrow(message);
  });
});
