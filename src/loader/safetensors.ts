import { ModelFormatError } from '../errors.js';
import { DTYPE_BYTES } from './dtype.js';
import type { RawTensor, TensorMap } from './tensors.js';

/**
 * The safetensors format: an 8-byte little-endian header length N, N bytes of JSON, then the
 * data section. Each JSON entry is { dtype, shape, data_offsets: [begin, end] } with offsets
 * relative to the data section; the optional `__metadata__` entry maps strings to strings.
 */
export interface Safetensors {
  tensors: TensorMap;
  metadata: Record<string, string>;
}

/** A header larger than this is not a model resgpu could run; refuse before decoding it. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export function parseSafetensors(file: Uint8Array): Safetensors {
  if (file.byteLength < 8) {
    throw new ModelFormatError(`Not a safetensors file: ${file.byteLength} bytes, shorter than the 8-byte header length.`);
  }
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(file.byteLength - 8, MAX_HEADER_BYTES))) {
    throw new ModelFormatError(
      `Malformed safetensors: header length ${headerLength} runs past the end of the ${file.byteLength}-byte file.`,
    );
  }
  const dataStart = 8 + Number(headerLength);
  const header = parseHeaderJson(file.subarray(8, dataStart));
  const data = file.subarray(dataStart);

  const tensors: TensorMap = new Map();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(entry);
      continue;
    }
    tensors.set(name, parseEntry(name, entry, data));
  }
  return { tensors, metadata };
}

function parseHeaderJson(bytes: Uint8Array): Record<string, unknown> {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new ModelFormatError(`Malformed safetensors: the header is not valid JSON (${(e as Error).message}).`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new ModelFormatError('Malformed safetensors: the header must be a JSON object.');
  }
  return header as Record<string, unknown>;
}

function parseMetadata(entry: unknown): Record<string, string> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new ModelFormatError('Malformed safetensors: __metadata__ must be an object of strings.');
  }
  for (const [key, value] of Object.entries(entry)) {
    if (typeof value !== 'string') {
      throw new ModelFormatError(`Malformed safetensors: __metadata__["${key}"] is not a string.`);
    }
  }
  return entry as Record<string, string>;
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function parseEntry(name: string, entry: unknown, data: Uint8Array): RawTensor {
  const bad = (why: string) => new ModelFormatError(`Malformed safetensors: tensor "${name}" ${why}.`);
  if (typeof entry !== 'object' || entry === null) throw bad('is not an object');
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) throw bad(`has unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every(isIndex)) throw bad(`has an invalid shape ${JSON.stringify(shape)}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) {
    throw bad(`has invalid data_offsets ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > data.byteLength) {
    throw bad(`has byte range [${begin}, ${end}) outside the ${data.byteLength}-byte data section`);
  }
  const expected = shape.reduce((n: number, d: number) => n * d, 1) * DTYPE_BYTES[dtype]!;
  if (end - begin !== expected) {
    throw bad(`has ${end - begin} bytes, but shape [${shape.join(', ')}] of ${dtype} needs ${expected}`);
  }
  return { name, dtype, shape: shape as number[], bytes: data.subarray(begin, end) };
}
