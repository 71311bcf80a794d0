import { Unzip, UnzipInflate, type UnzipFile } from 'fflate';
import { ModelFormatError } from '../errors.js';
import { DTYPE_BYTES } from './dtype.js';
import { inferGraph } from './infer-graph.js';
import { unpickle, type PickledTensor } from './pickle.js';
import type { Arrived } from './arrived.js';
import type { IncrementalParser, RawTensor, TensorEvents, TensorMap } from './tensors.js';
import { WHOLE_MODEL_REMEDY } from './remedies.js';
import { checkZipStructure, localDataStart, readStoredEntry } from './zip.js';

/**
 * Files written by torch.save since PyTorch 1.6: a zip archive holding <name>/data.pkl (the
 * pickled state_dict, whose tensors point at storages by key) and <name>/data/<key> (each
 * storage's raw little-endian bytes). PyTorch stores entries uncompressed, so each storage is
 * a view into the file's bytes, not a copy. Stored entries are read in place (zip.ts's
 * readStoredEntry) for as long as every entry is one; from the first that is not, fflate reads on
 * (it hands stored data over in copies, joining what it held back to each new push, so there a
 * stored entry's data is viewed in the file where its local header puts it, and fflate's copies
 * are only checked against it). The archive is read as it downloads
 * (torchZipParser): the header is data.pkl, each tensor is released once its storage is in.
 *
 * Bounds, so that a hostile file costs at most a small multiple of its size: a compressed
 * entry may inflate to no more than its storage's byte size (MAX_PICKLE_BYTES for the pickle),
 * checked as it inflates, 16 KiB of input at a time; a tensor may not have more elements than
 * its storage (stride-0 views would multiply a few bytes into gigabytes).
 */
/** The largest data.pkl resgpu inflates: a state_dict's pickle of 100,000 tensors is a few MB. */
export const MAX_PICKLE_BYTES = 64 * 1024 * 1024;
/** Bytes handed to the unzipper at once, so that one push can inflate at most about 1,000 times this. */
const PUSH_BYTES = 16 * 1024;

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
  if (numel > t.storage.numel) {
    throw new ModelFormatError(
      `Refused to load: tensor "${key}" has ${numel} elements but its storage only ${t.storage.numel}, so it repeats ` +
        'elements (a stride-0 or overlapping view, as expand() makes). Model weights never do; save tensor.contiguous() instead.',
    );
  }
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
  let storageBytes = new Map<string, number>(); // storage path → byte size the pickle gives it
  let root = '';
  let pushed = 0;
  let fileLength = 0;
  let file: Uint8Array = new Uint8Array(0);
  // Where the next local header is (entries follow one another); null once lost (after a
  // compressed entry, whose end is not known here): stored data is then copied as fflate gives it.
  let nextHeader: number | null = 0;
  // An error from our own handlers, kept apart from fflate's: only fflate's mean a corrupt zip.
  let failure: unknown = null;
  const release = (path: string) => {
    const bytes = storages.get(path);
    const tensors = bytes && waiting?.get(path);
    if (!tensors) return;
    waiting!.delete(path);
    for (const [key, t] of tensors) events.tensor(materialize(key, t, bytes!));
  };
  const onPickle = (name: string, bytes: Uint8Array) => {
    if (waiting) throw new ModelFormatError(`Refused to load: the archive holds a second pickle, "${name}" (torch.load refuses a file with two).`);
    root = name.slice(0, -'data.pkl'.length);
    const stateDict = findStateDict(unpickle(bytes));
    const shapes: TensorMap = new Map();
    waiting = new Map();
    storageBytes = new Map();
    for (const [key, value] of stateDict) {
      if (typeof key !== 'string' || !isTensor(value)) continue;
      shapes.set(key, { name: key, dtype: value.storage.dtype, shape: value.shape, bytes: new Uint8Array(0) });
      const path = `${root}data/${value.storage.key}`;
      const list = waiting.get(path);
      if (list) list.push([key, value]); // not a copy per tensor: one storage may hold thousands
      else waiting.set(path, [[key, value]]);
      storageBytes.set(path, value.storage.numel * DTYPE_BYTES[value.storage.dtype]!);
    }
    events.header(shapes, undefined, 'pytorch', inferGraph);
    for (const path of storages.keys()) release(path);
  };
  const checkEntry = (name: string, compression: number) => {
    if (name.endsWith('constants.pkl') || name.includes('/code/')) {
      throw new ModelFormatError(`This is a TorchScript file (torch.jit.save; it holds "${name}"), not a torch.save'd state_dict. ${WHOLE_MODEL_REMEDY}`);
    }
    if (compression !== 0 && compression !== 8) {
      throw new ModelFormatError(`Malformed PyTorch file: zip entry "${name}" uses compression method ${compression}; torch.save stores entries (method 0), and resgpu also reads deflate (8).`);
    }
  };
  const isPickleName = (name: string) => name === 'data.pkl' || name.endsWith('/data.pkl');
  /** An entry whose bytes are all in. */
  const complete = (name: string, bytes: Uint8Array) => {
    if (isPickleName(name)) onPickle(name, bytes);
    else if (name.endsWith('byteorder') && new TextDecoder().decode(bytes).trim() === 'big') {
      throw new ModelFormatError('This PyTorch file was saved on a big-endian machine; re-save it on a little-endian one.');
    } else {
      storages.set(name, bytes);
      release(name);
    }
  };
  const onEntry = (entry: UnzipFile) => {
    checkEntry(entry.name, entry.compression);
    const isPickle = isPickleName(entry.name);
    // A compressed entry may not inflate past what it has to hold; stored entries cost nothing (views).
    const limit = entry.compression === 0 ? Infinity : isPickle ? MAX_PICKLE_BYTES : (storageBytes.get(entry.name) ?? fileLength);
    let inflated = 0;
    const chunks: Uint8Array[] = [];
    // Stored data as a view of the file from here, while every chunk fflate gives matches it.
    let viewAt = entry.compression === 0 && nextHeader !== null ? localDataStart(file, nextHeader, entry.name) : null;
    if (viewAt === null) nextHeader = null;
    entry.ondata = (err, data, final) => {
      if (err) throw err;
      try {
        onData(data, final);
      } catch (e) {
        throw (failure ??= e);
      }
    };
    const onData = (data: Uint8Array, final: boolean) => {
      inflated += data.byteLength;
      if (inflated > limit) {
        throw new ModelFormatError(
          `Refused to load: compressed zip entry "${entry.name}" inflates past ${limit} bytes, ${isPickle ? 'the cap on a pickle' : 'the size of the storage it holds'} ` +
            '(a zip bomb, or a corrupt file). torch.save never compresses entries.',
        );
      }
      if (viewAt !== null && !sameEnds(file, viewAt + inflated - data.byteLength, data)) {
        // Never expected: then the bytes so far (checked) and on are copied, as without the view.
        chunks.push(file.slice(viewAt, viewAt + inflated - data.byteLength));
        viewAt = nextHeader = null;
      }
      if (viewAt === null) chunks.push(data);
      if (!final) return;
      if (viewAt !== null) nextHeader = viewAt + inflated;
      const bytes = viewAt !== null ? file.subarray(viewAt, viewAt + inflated) : contiguous(chunks);
      if (entry.compression !== 0 && !isPickle && storageBytes.has(entry.name) && inflated !== limit) {
        throw new ModelFormatError(`Malformed PyTorch file: compressed storage "${entry.name}" inflates to ${inflated} bytes, but its tensors' storage is ${limit}.`);
      }
      complete(entry.name, bytes);
    };
    entry.start();
  };
  // fflate, from the first entry readStoredEntry does not read (none for a file torch.save wrote).
  let unzip: Unzip | null = null;
  const scan = { from: 0 };
  /** Stored entries read in place from `nextHeader`, until one is not plain stored data: fflate then starts there. */
  const readInPlace = (a: Arrived, final: boolean) => {
    for (;;) {
      const e = readStoredEntry(a.file, a.arrived, nextHeader!, (name) => storageBytes.get(name), scan);
      if (e === 'end' || (e === 'more' && !final)) return;
      if (e === 'more' || e === null) break; // at the end, fflate says what is wrong with the rest
      checkEntry(e.name, 0);
      complete(e.name, a.file.subarray(e.start, e.end));
      nextHeader = e.next;
      scan.from = 0;
    }
    pushed = nextHeader!;
    unzip = new Unzip((entry) => {
      try {
        onEntry(entry);
      } catch (e) {
        throw (failure = e);
      }
    });
    unzip.register(UnzipInflate);
  };
  const push = (a: Arrived, final: boolean) => {
    fileLength = a.file.byteLength;
    file = a.file;
    if (!unzip) readInPlace(a, final);
    if (!unzip) return;
    try {
      do {
        const end = Math.min(a.arrived, pushed + PUSH_BYTES);
        unzip!.push(a.file.subarray(pushed, end), final && end === a.arrived);
        pushed = end;
      } while (pushed < a.arrived);
    } catch (e) {
      if (failure !== null) throw failure; // ours: a typed refusal, or a bug to be seen as it is
      throw new ModelFormatError(`Malformed PyTorch file: the zip archive is truncated or corrupt (${(e as Error).message}).`);
    }
  };
  return {
    advance: (a) => push(a, false),
    finish(a) {
      checkZipStructure(a.file.subarray(0, a.arrived));
      push(a, true);
      if (!waiting) throw new ModelFormatError('Malformed PyTorch file: the zip archive has no data.pkl (is it a file written by torch.save?).');
      const [path, tensors] = [...waiting][0] ?? [];
      if (path) throw new ModelFormatError(`Malformed PyTorch file: tensor "${tensors![0]![0]}" needs storage ${path}, which the archive lacks.`);
    },
  };
}

/** Whether `data` is at `at` in the file, by its first and last 16 bytes (a guard, not a proof: the header fixed the place). */
function sameEnds(file: Uint8Array, at: number, data: Uint8Array): boolean {
  if (at < 0 || at + data.byteLength > file.byteLength) return false;
  const n = data.byteLength;
  for (let i = 0; i < Math.min(16, n); i++) if (file[at + i] !== data[i] || file[at + n - 1 - i] !== data[n - 1 - i]) return false;
  return true;
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
