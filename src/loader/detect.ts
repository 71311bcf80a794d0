import { ModelFormatError } from '../errors.js';

/**
 * What a file is, told by its content rather than its name, so that a broken file of a known
 * format is reported as that format broken (a safetensors header length past the end is a
 * truncated safetensors, not "malformed ONNX"), and a file of a format resgpu does not read is
 * named where it can be (HDF5, a bare pickle) instead of being fed to the ONNX decoder.
 */
export type Detected = 'safetensors' | 'zip' | 'onnx';

/** Bytes needed before the format can be told apart. */
export const SNIFF_BYTES = 16;

const HDF5 = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
/** PyTorch's legacy magic number 0x1950a86a20f9469cfc6c as a pickled LONG1, after PROTO. */
const LEGACY_MAGIC = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

const startsWith = (head: Uint8Array, bytes: number[], at = 0) => bytes.every((b, i) => head[at + i] === b);

export const isZip = (head: Uint8Array) => head[0] === 0x50 && head[1] === 0x4b && [3, 5, 7].includes(head[2]!) && head[3] === head[2]! + 1;
export const isLegacyTorch = (head: Uint8Array) => head[0] === 0x80 && startsWith(head, LEGACY_MAGIC, 2);

/** What may follow the `{` opening a safetensors header: a key's quote, `}`, or JSON whitespace. */
const JSON_OBJECT_NEXT = [0x22, 0x7d, 0x20, 0x09, 0x0a, 0x0d];

/**
 * An 8-byte header length, then the header's JSON object: `{` at byte 8, whatever the length
 * says. A length under 4 GiB (bytes 4 to 8 zero) or an object that visibly starts (`{"`, `{}`)
 * is enough: a corrupt length, however large, is still a safetensors file, and its parser then
 * names the length and the file size instead of "not a model file".
 */
const isSafetensors = (head: Uint8Array) =>
  head.byteLength > 9 && head[8] === 0x7b && (head.subarray(4, 8).every((b) => b === 0) || JSON_OBJECT_NEXT.includes(head[9]!));

/**
 * ONNX is a protobuf ModelProto; torch.onnx.export and every other exporter write field 1
 * (ir_version, a small varint) first. A file starting otherwise is tried as ONNX only when its
 * first field is at least one a ModelProto has, with the right wire type.
 */
function isOnnx(head: Uint8Array): boolean {
  if (head[0] === 0x08) return head[1]! >= 1 && head[1]! <= 64;
  const field = head[0]! >> 3;
  const wire = head[0]! & 7;
  const lengthDelimited = [2, 3, 4, 6, 7, 8, 14, 20, 25];
  return (wire === 2 && lengthDelimited.includes(field)) || (wire === 0 && field === 5);
}

const LEGACY_TORCH_MESSAGE =
  'This is a legacy PyTorch file (saved before PyTorch 1.6, or with _use_new_zipfile_serialization=False). ' +
  'Re-save it with a current PyTorch: torch.save(torch.load(path), path).';

export const RESGPU_READS = 'resgpu reads .safetensors, torch.save zip files (.pt/.pth) and ONNX';

/** The format of a file from its first bytes (`whole` when they are the whole file), or a ModelFormatError saying what it is instead. */
export function detectFormat(head: Uint8Array, fileLength: number): Detected {
  if (fileLength === 0) throw new ModelFormatError(`The model file is empty (0 bytes): ${RESGPU_READS}. Check the path or URL, or that the download completed.`);
  if (isZip(head)) return 'zip';
  if (isSafetensors(head)) return 'safetensors';
  if (isLegacyTorch(head)) throw new ModelFormatError(LEGACY_TORCH_MESSAGE);
  const seen = (what: string, remedy: string) =>
    new ModelFormatError(`Not a model file resgpu reads: this looks like ${what}. ${remedy} (${RESGPU_READS}.)`);
  if (startsWith(head, HDF5)) {
    throw seen('an HDF5 file (a Keras .h5 model?)', 'Convert it to ONNX (tf2onnx), or rebuild the model in PyTorch and save its state_dict.');
  }
  if (head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5) {
    throw seen(
      'a bare Python pickle (pickle.dump, or torch.save with _use_new_zipfile_serialization=False)',
      'Save it with a current PyTorch: torch.save(model.state_dict(), path).',
    );
  }
  if (head[0] === 0x7b || head[0] === 0x5b) {
    throw seen('JSON text (a graph manifest?)', 'Pass a manifest with its weights: loadModel({ weights, graph }).');
  }
  if (isOnnx(head)) return 'onnx';
  const hex = [...head.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new ModelFormatError(
    `Not a model file resgpu reads: expected .safetensors, a torch.save zip, or ONNX, but the ${fileLength}-byte file ` +
      `starts with bytes ${hex}, which match none of them. Check the path or URL (an HTML error page?), or that the file is complete.`,
  );
}
