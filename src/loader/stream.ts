import { Unzip, UnzipInflate } from 'fflate';
import { ModelFormatError, ResgpuError } from '../errors.js';
import { GRAPH_METADATA_KEY, type GraphManifest } from './manifest.js';
import { parseOnnx } from './onnx.js';
import { unpickle, type PickledTensor } from './pickle.js';
import { findStateDict, isLegacyTorch, isTensor, isZip, LEGACY_TORCH_MESSAGE, materialize } from './pytorch.js';
import { parseSafetensors } from './safetensors.js';
import type { Arrived } from './source.js';
import type { RawTensor, TensorMap } from './tensors.js';

/**
 * Weight files parsed while they download: first every tensor's name, dtype and shape (and
 * the embedded graph), as soon as the file's header or data.pkl is in; then each tensor as
 * soon as its bytes are. The loader builds, folds and uploads layers from these events.
 */
export interface TensorEvents {
  /** Shapes and dtypes of every tensor; their `bytes` are not to be read yet. */
  header(tensors: TensorMap, graph: string | GraphManifest | undefined, format: 'safetensors' | 'pytorch' | 'onnx'): void;
  /** A tensor whose bytes have all arrived. */
  tensor(t: RawTensor): void;
}

export interface IncrementalParser {
  advance(a: Arrived): void;
  /** The file is complete: everything not yet reported must be now, or the file is malformed. */
  finish(a: Arrived): void;
}

/** Bytes needed before the format can be told apart (zip magic, legacy-torch magic). */
const SNIFF_BYTES = 14;

/** A safetensors file starts with its header's length, then the header's JSON object. */
function looksLikeSafetensors(head: Uint8Array, fileLength: number): boolean {
  if (head.byteLength < 9) return head.byteLength === fileLength; // too short for anything: let safetensors say why
  const length = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
  return length <= BigInt(fileLength - 8) && head[8] === 0x7b;
}

/**
 * A parser that picks the format once enough of the file is in: a zip is PyTorch's, a
 * safetensors header is safetensors, anything else is taken as ONNX's protobuf.
 */
export function weightParser(events: TensorEvents, external: Map<string, Uint8Array> = new Map()): IncrementalParser {
  let parser: IncrementalParser | null = null;
  const choose = (a: Arrived, final: boolean) => {
    if (parser || (a.arrived < SNIFF_BYTES && !final)) return parser;
    const head = a.file.subarray(0, a.arrived);
    if (isLegacyTorch(head)) throw new ModelFormatError(LEGACY_TORCH_MESSAGE);
    parser = isZip(head)
      ? torchZipParser(events)
      : looksLikeSafetensors(head, a.file.byteLength)
        ? safetensorsParser(events)
        : onnxParser(events, external);
    return parser;
  };
  return {
    advance: (a) => choose(a, false)?.advance(a),
    finish: (a) => choose(a, true)!.finish(a),
  };
}

/** ONNX is one protobuf message: it is decoded once the whole file is in. */
function onnxParser(events: TensorEvents, external: Map<string, Uint8Array>): IncrementalParser {
  return {
    advance: () => undefined,
    finish(a) {
      const { tensors, manifest } = parseOnnx(a.file.subarray(0, a.arrived), external);
      events.header(tensors, manifest, 'onnx');
      for (const t of tensors.values()) events.tensor(t);
    },
  };
}

function safetensorsParser(events: TensorEvents): IncrementalParser {
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

function torchZipParser(events: TensorEvents): IncrementalParser {
  const storages = new Map<string, Uint8Array>();
  let waiting: Map<string, [string, PickledTensor][]> | null = null; // storage path → tensors in it
  let root = '';
  let pushed = 0;
  const release = (path: string) => {
    const bytes = storages.get(path);
    const tensors = bytes && waiting?.get(path);
    if (!tensors) return;
    waiting!.delete(path);
    for (const [key, t] of tensors) events.tensor(materialize(key, t, bytes!));
  };
  const onPickle = (bytes: Uint8Array) => {
    const stateDict = findStateDict(unpickle(bytes));
    const shapes: TensorMap = new Map();
    waiting = new Map();
    for (const [key, value] of stateDict) {
      if (typeof key !== 'string' || !isTensor(value)) continue;
      shapes.set(key, { name: key, dtype: value.storage.dtype, shape: value.shape, bytes: new Uint8Array(0) });
      const path = `${root}data/${value.storage.key}`;
      waiting.set(path, [...(waiting.get(path) ?? []), [key, value]]);
    }
    events.header(shapes, undefined, 'pytorch');
    for (const path of storages.keys()) release(path);
  };
  const unzip = new Unzip((entry) => {
    const chunks: Uint8Array[] = [];
    entry.ondata = (err, data, final) => {
      if (err) throw err;
      chunks.push(data);
      if (!final) return;
      const bytes = contiguous(chunks);
      if (entry.name === 'data.pkl' || entry.name.endsWith('/data.pkl')) {
        root = entry.name.slice(0, -'data.pkl'.length);
        onPickle(bytes);
      } else if (entry.name.endsWith('byteorder') && new TextDecoder().decode(bytes).trim() === 'big') {
        throw new ModelFormatError('This PyTorch file was saved on a big-endian machine; re-save it on a little-endian one.');
      } else {
        storages.set(entry.name, bytes);
        release(entry.name);
      }
    };
    entry.start();
  });
  unzip.register(UnzipInflate);
  const push = (a: Arrived, final: boolean) => {
    try {
      unzip.push(a.file.subarray(pushed, a.arrived), final);
    } catch (e) {
      if (e instanceof ResgpuError) throw e; // ours, from the callbacks above
      throw new ModelFormatError(`Malformed PyTorch file: the zip archive is truncated or corrupt (${(e as Error).message}).`);
    }
    pushed = a.arrived;
  };
  return {
    advance: (a) => push(a, false),
    finish(a) {
      push(a, true);
      if (!waiting) throw new ModelFormatError('Malformed PyTorch file: the zip archive has no data.pkl (is it a file written by torch.save?).');
      const [path, tensors] = [...waiting][0] ?? [];
      if (path) throw new ModelFormatError(`Malformed PyTorch file: tensor "${tensors![0]![0]}" needs storage ${path}, which the archive lacks.`);
    },
  };
}

/** One view when the chunks are consecutive views of one buffer (a stored zip entry), else a copy. */
function contiguous(chunks: Uint8Array[]): Uint8Array {
  const first = chunks[0]!;
  let end = first.byteOffset;
  const adjacent = chunks.every((c) => c.buffer === first.buffer && c.byteOffset === end && ((end += c.byteLength), true));
  if (adjacent) return new Uint8Array(first.buffer, first.byteOffset, end - first.byteOffset);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  chunks.reduce((at, c) => (out.set(c, at), at + c.byteLength), 0);
  return out;
}
