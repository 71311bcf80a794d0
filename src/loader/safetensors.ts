import { ModelFormatError } from '../errors.js';
import { DTYPE_BYTES } from './dtype.js';
import { GRAPH_METADATA_KEY } from './manifest.js';
import type { Arrived } from './arrived.js';
import type { IncrementalParser, RawTensor, TensorEvents, TensorMap } from './tensors.js';

/**
 * The safetensors format: an 8-byte little-endian header length N, N bytes of JSON, then the
 * data section. Each JSON entry is { dtype, shape, data_offsets: [begin, end] } with offsets
 * relative to the data section; the optional `__metadata__` entry maps strings to strings.
 */
export interface Safetensors {
  tensors: TensorMap;
  metadata: Record<string, string>;
}

/** A header larger than this is not a model resgpu could run; refuse before decoding it (the reference implementation's cap). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
/** More tensors than this is no residual MLP; refused before any per-tensor work. */
export const MAX_TENSORS = 1_000_000;

export function parseSafetensors(file: Uint8Array): Safetensors {
  if (file.byteLength < 8) {
    throw new ModelFormatError(`Not a safetensors file: ${file.byteLength} bytes, shorter than the 8-byte header length.`);
  }
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const headerLength = view.getBigUint64(0, true);
  // Past the end first: a length no file could satisfy is a corrupt or truncated file, whatever the cap says.
  if (headerLength > BigInt(file.byteLength - 8)) {
    throw new ModelFormatError(
      `Truncated or corrupt safetensors file: its header length ${headerLength} runs past the end of the ${file.byteLength}-byte file. Is the file complete?`,
    );
  }
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw new ModelFormatError(`Refused to load: the safetensors header length ${headerLength} is over the ${MAX_HEADER_BYTES}-byte cap.`);
  }
  const dataStart = 8 + Number(headerLength);
  const header = parseHeaderJson(file.subarray(8, dataStart));
  const data = file.subarray(dataStart);

  const entries = Object.entries(header);
  if (entries.length > MAX_TENSORS + 1) {
    throw new ModelFormatError(`Refused to load: the safetensors header lists ${entries.length} entries, more than the ${MAX_TENSORS} tensors resgpu reads.`);
  }
  const tensors: TensorMap = new Map();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of entries) {
    if (name === '__metadata__') {
      metadata = parseMetadata(entry);
      continue;
    }
    tensors.set(name, parseEntry(name, entry, data));
  }
  checkContiguous(tensors, data, dataStart);
  return { tensors, metadata };
}

/**
 * As the format's reference implementation does: tensors, in data order, must tile the data
 * section exactly, each starting where the previous ended. Overlapping tensors would share
 * bytes, a hole or trailing bytes hide data no tensor owns; each is refused.
 */
function checkContiguous(tensors: TensorMap, data: Uint8Array, dataStart: number): void {
  const ranges = [...tensors.values()]
    .map((t) => ({ name: t.name, begin: t.bytes.byteOffset - data.byteOffset, end: t.bytes.byteOffset - data.byteOffset + t.bytes.byteLength }))
    .sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const r of ranges) {
    if (r.begin !== at) {
      const what = r.begin < at ? `overlaps the tensor before it (which ends at ${at})` : `starts at ${r.begin}, leaving a hole after byte ${at}`;
      throw new ModelFormatError(
        `Malformed safetensors: tensor "${r.name}" ${what}; each tensor must start where the previous one ends. ` +
          'Re-save the file with the safetensors library or encodeSafetensors.',
      );
    }
    at = r.end;
  }
  if (at !== data.byteLength) {
    throw new ModelFormatError(
      `Malformed safetensors: the data section (from byte ${dataStart}) has ${data.byteLength} bytes but its tensors cover ${at}: ` +
        `${data.byteLength > at ? 'trailing bytes, or a truncated header' : 'the file is truncated'}.`,
    );
  }
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
    throw bad(`has byte range [${begin}, ${end}) outside the ${data.byteLength}-byte data section (the file is truncated, or its header corrupt)`);
  }
  const expected = shape.reduce((n: number, d: number) => n * d, 1) * DTYPE_BYTES[dtype]!;
  if (end - begin !== expected) {
    throw bad(`has ${end - begin} bytes, but shape [${shape.join(', ')}] of ${dtype} needs ${expected}`);
  }
  return { name, dtype, shape: shape as number[], bytes: data.subarray(begin, end) };
}

/** Reports the header once it is in, then each tensor once its bytes are (a safetensors file is in data order). */
export function safetensorsParser(events: TensorEvents): IncrementalParser {
  let pending: { end: number; tensor: RawTensor }[] | null = null;
  const emit = (a: Arrived) => {
    while (pending!.length > 0 && pending![0]!.end <= a.arrived) events.tensor(pending!.shift()!.tensor);
  };
  const parseHeader = (a: Arrived) => {
    const file = parseSafetensors(a.file); // reads only the header; tensors are views to fill later
    const start = a.file.byteOffset;
    pending = [...file.tensors.values()]
      .map((tensor) => ({ end: tensor.bytes.byteOffset - start + tensor.bytes.byteLength, tensor }))
      .sort((x, y) => x.end - y.end);
    events.header(file.tensors, file.metadata[GRAPH_METADATA_KEY], 'safetensors');
  };
  return {
    advance(a) {
      if (!pending) {
        if (a.arrived < 8) return;
        const length = new DataView(a.file.buffer, a.file.byteOffset, 8).getBigUint64(0, true);
        // An impossible length is reported at once (parseSafetensors says why); else wait for the header.
        if (length <= BigInt(a.file.byteLength - 8) && a.arrived < 8 + Number(length)) return;
        parseHeader(a);
      }
      emit(a);
    },
    finish(a) {
      if (!pending) parseHeader(a);
      emit(a);
    },
  };
}
