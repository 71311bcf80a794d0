import { Unzip, UnzipInflate } from 'fflate';
import { ModelFormatError, ResgpuError } from '../errors.js';
import { DTYPE_BYTES } from './dtype.js';
import { unpickle, type PickledTensor } from './pickle.js';
import type { Arrived } from './source.js';
import type { IncrementalParser, RawTensor, TensorEvents, TensorMap } from './tensors.js';

/**
 * Files written by torch.save since PyTorch 1.6: a zip archive holding <name>/data.pkl (the
 * pickled state_dict, whose tensors point at storages by key) and <name>/data/<key> (each
 * storage's raw little-endian bytes). PyTorch stores entries uncompressed, so each storage is
 * a view into the file's bytes, not a copy. The archive is read as it downloads
 * (torchZipParser): the header is data.pkl, each tensor is released once its storage is in.
 */
export function isZip(bytes: Uint8Array): boolean {
  return bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/**
 * torch.save before 1.6 (or with _use_new_zipfile_serialization=False) wrote bare pickles,
 * starting with PROTO then LONG1 of PyTorch's magic number 0x1950a86a20f9469cfc6c.
 */
const LEGACY_MAGIC = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

export function isLegacyTorch(bytes: Uint8Array): boolean {
  return bytes[0] === 0x80 && LEGACY_MAGIC.every((b, i) => bytes[2 + i] === b);
}

export const LEGACY_TORCH_MESSAGE =
  'This is a legacy PyTorch file (saved before PyTorch 1.6, or with _use_new_zipfile_serialization=False). ' +
  'Re-save it with a current PyTorch: torch.save(torch.load(path), path).';

export function isTensor(v: unknown): v is PickledTensor {
  return typeof v === 'object' && v !== null && (v as PickledTensor).kind === 'tensor';
}

/** The state_dict itself, or the one inside a checkpoint dict such as { model_state_dict, optimizer, epoch }. */
export function findStateDict(root: unknown): Map<unknown, unknown> {
  if (!(root instanceof Map)) throw new ModelFormatError('This PyTorch file does not hold a state_dict (a dict of tensors); save model.state_dict().');
  if ([...root.values()].some(isTensor)) return root;
  for (const key of ['state_dict', 'model_state_dict', 'model']) {
    const inner = root.get(key);
    if (inner instanceof Map && [...inner.values()].some(isTensor)) return inner;
  }
  throw new ModelFormatError('This PyTorch file holds a dict without tensors; save model.state_dict().');
}

/** The tensor's elements, row-major: a view when the layout already is, else gathered through its strides. */
export function materialize(key: string, t: PickledTensor, storage: Uint8Array): RawTensor {
  const size = DTYPE_BYTES[t.storage.dtype]!;
  const numel = t.shape.reduce((n, d) => n * d, 1);
  if (storage.byteLength < t.storage.numel * size) {
    throw new ModelFormatError(
      `Malformed PyTorch file: storage data/${t.storage.key} of tensor "${key}" has ${storage.byteLength} bytes, ` +
        `but ${t.storage.numel} ${t.storage.dtype} elements need ${t.storage.numel * size}.`,
    );
  }
  const last = numel === 0 ? t.offset : t.offset + t.shape.reduce((n, d, i) => n + (d - 1) * t.strides[i]!, 0);
  if (last >= Math.max(t.storage.numel, 1) && numel > 0) {
    throw new ModelFormatError(`Malformed PyTorch file: tensor "${key}" reaches element ${last} of a ${t.storage.numel}-element storage.`);
  }
  let contiguous = true;
  for (let i = t.shape.length - 1, expected = 1; i >= 0; i--) {
    if (t.shape[i] !== 1 && t.strides[i] !== expected) contiguous = false;
    expected *= t.shape[i]!;
  }
  const base = { name: key, dtype: t.storage.dtype, shape: t.shape };
  if (contiguous) return { ...base, bytes: storage.subarray(t.offset * size, (t.offset + numel) * size) };

  const out = new Uint8Array(numel * size);
  const index = new Array<number>(t.shape.length).fill(0);
  for (let n = 0; n < numel; n++) {
    const src = (t.offset + index.reduce((s, v, i) => s + v * t.strides[i]!, 0)) * size;
    out.set(storage.subarray(src, src + size), n * size);
    for (let d = t.shape.length - 1; d >= 0 && ++index[d]! === t.shape[d]; d--) index[d] = 0;
  }
  return { ...base, bytes: out };
}

export function torchZipParser(events: TensorEvents): IncrementalParser {
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
