import { ModelFormatError } from '../errors.js';
import { DTYPE_BYTES } from './dtype.js';
import type { PickledTensor } from './pickle.js';
import type { RawTensor } from './tensors.js';

/**
 * Files written by torch.save since PyTorch 1.6: a zip archive holding <name>/data.pkl (the
 * pickled state_dict, whose tensors point at storages by key) and <name>/data/<key> (each
 * storage's raw little-endian bytes). PyTorch stores entries uncompressed, so each storage is
 * a view into the file's bytes, not a copy. The archive is read as it downloads by
 * torchZipParser in stream.ts; this file holds what it needs to know of PyTorch's layout.
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
