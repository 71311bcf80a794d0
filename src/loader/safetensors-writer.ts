/** A tensor to write: float data is stored as F32 unless it is a Float64Array (F64). */
export interface TensorToWrite {
  name: string;
  shape: number[];
  data: Float32Array | Float64Array;
}

/**
 * Writes a safetensors file (8-byte little-endian header length, JSON header, data). Each
 * tensor's data is aligned to 8 bytes so readers can view it in place. Used by the tests,
 * the benchmarks and tools that make models in JavaScript.
 */
export function encodeSafetensors(tensors: readonly TensorToWrite[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const begin = Math.ceil(offset / 8) * 8;
    offset = begin + t.data.byteLength;
    header[t.name] = { dtype: t.data instanceof Float64Array ? 'F64' : 'F32', shape: t.shape, data_offsets: [begin, offset] };
  }
  // The spec allows trailing spaces in the header; pad it so the data section starts 8-aligned.
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (new TextEncoder().encode(json).byteLength % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const file = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(file.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  file.set(headerBytes, 8);
  const dataStart = 8 + headerBytes.byteLength;
  for (const t of tensors) {
    const [begin] = (header[t.name] as { data_offsets: number[] }).data_offsets as [number];
    file.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), dataStart + begin);
  }
  return file;
}
