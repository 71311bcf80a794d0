/**
 * A tensor to write: `data` is stored as F32, or F64 for a Float64Array; or already-encoded
 * `bytes` of any safetensors `dtype` (F16, BF16, I64, ...).
 */
export type TensorToWrite =
  | { name: string; shape: number[]; data: Float32Array | Float64Array }
  | { name: string; shape: number[]; dtype: string; bytes: Uint8Array };

function encoded(t: TensorToWrite): { dtype: string; bytes: Uint8Array } {
  if ('bytes' in t) return t;
  return {
    dtype: t.data instanceof Float64Array ? 'F64' : 'F32',
    bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
  };
}

/**
 * Writes a safetensors file (8-byte little-endian header length, JSON header, data). Tensors
 * are stored back to back, each starting where the previous ended, as the format's reference
 * implementation requires (it refuses holes between data offsets); the header is padded with
 * spaces so the data section starts 8-aligned. Used by the tests, the benchmarks and tools
 * that make models in JavaScript.
 */
export function encodeSafetensors(tensors: readonly TensorToWrite[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const parts = tensors.map((t) => ({ name: t.name, shape: t.shape, ...encoded(t), begin: 0 }));
  for (const p of parts) {
    p.begin = offset;
    offset += p.bytes.byteLength;
    header[p.name] = { dtype: p.dtype, shape: p.shape, data_offsets: [p.begin, offset] };
  }
  // The spec allows trailing spaces in the header; pad it so the data section starts 8-aligned.
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (new TextEncoder().encode(json).byteLength % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const file = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(file.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  file.set(headerBytes, 8);
  const dataStart = 8 + headerBytes.byteLength;
  for (const p of parts) file.set(p.bytes, dataStart + p.begin);
  return file;
}
