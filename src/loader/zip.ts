import { ModelFormatError } from '../errors.js';

/**
 * The zip archive's own structure, checked once the whole .pt file is in (PKWARE APPNOTE 4.3):
 * the end-of-central-directory record must be there (without it the file is truncated, or no
 * complete archive, and torch.load refuses it), and every central-directory entry must be
 * readable, unencrypted, and named once. fflate reads the entries as they stream; these are
 * the checks a streaming reader cannot make.
 */
const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const DESCRIPTOR = 0x08074b50;
/** Bytes a data descriptor may take after an entry's data: signature, CRC and two zip64 sizes. */
const MAX_DESCRIPTOR = 24;

/**
 * Where the data of entry `name` starts, from its local header (APPNOTE 4.3.7: 30 bytes, the
 * name, the extra field, then the data), looked for at `from` and up to a data descriptor
 * further (torch.save writes one after each entry); null where no header naming it is there.
 */
export function localDataStart(file: Uint8Array, from: number, name: string): number | null {
  const wanted = new TextEncoder().encode(name);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  for (let at = from; at <= from + MAX_DESCRIPTOR && at + 30 + wanted.length <= file.byteLength; at++) {
    if (view.getUint32(at, true) !== LOCAL || view.getUint16(at + 26, true) !== wanted.length) continue;
    if (wanted.every((b, i) => file[at + 30 + i] === b)) return at + 30 + wanted.length + view.getUint16(at + 28, true);
  }
  return null;
}

export function checkZipStructure(file: Uint8Array): void {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const u32 = (at: number) => view.getUint32(at, true);
  const u16 = (at: number) => view.getUint16(at, true);
  const u64 = (at: number) => Number(view.getBigUint64(at, true));
  const corrupt = (why: string) => new ModelFormatError(`Malformed PyTorch file: the zip archive's central directory ${why}. Download or save the file again.`);
  // The record is 22 bytes plus a comment of at most 65,535.
  let eocd = -1;
  for (let at = file.byteLength - 22; at >= Math.max(0, file.byteLength - 22 - 0xffff); at--) {
    if (u32(at) === EOCD) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) {
    throw new ModelFormatError(
      `The PyTorch file is truncated (or not a complete zip archive): its ${file.byteLength} bytes end without the zip's ` +
        'end-of-central-directory record. Download or save the file again.',
    );
  }
  let count = u16(eocd + 10);
  let start = u32(eocd + 16);
  if (start === 0xffffffff || count === 0xffff) {
    const locator = eocd - 20;
    if (locator < 0 || u32(locator) !== ZIP64_LOCATOR) throw corrupt('is marked zip64 but has no zip64 locator');
    const record = u64(locator + 8);
    if (record + 56 > file.byteLength || u32(record) !== ZIP64_EOCD) throw corrupt('points to a zip64 record that is not there');
    count = u64(record + 32);
    start = u64(record + 48);
  }
  const names = new Set<string>();
  const decoder = new TextDecoder();
  for (let i = 0, at = start; i < count; i++) {
    if (at + 46 > file.byteLength || u32(at) !== CENTRAL) throw corrupt(`entry ${i} is not where the directory says`);
    const flags = u16(at + 8);
    const nameLength = u16(at + 28);
    if (at + 46 + nameLength > file.byteLength) throw corrupt(`entry ${i} runs past the end of the file`);
    const name = decoder.decode(file.subarray(at + 46, at + 46 + nameLength));
    if (flags & 1) throw new ModelFormatError(`Refused to load: zip entry "${name}" is encrypted; torch.save never encrypts, and neither does torch.load read it.`);
    if (names.has(name)) throw new ModelFormatError(`Refused to load: the zip archive holds two entries named "${name}" (torch.load refuses such a file).`);
    names.add(name);
    at += 46 + nameLength + u16(at + 30) + u16(at + 32);
  }
}

/** A stored (uncompressed) entry read in place: its name, its data's range in the file, and where the next record starts. */
export interface StoredEntry {
  name: string;
  start: number;
  end: number;
  next: number;
}

/**
 * The stored entry whose local header is at `at`, read in place (APPNOTE 4.3.7 and 4.3.9): 'more'
 * until its data and data descriptor have arrived, 'end' at the central directory, null for
 * anything else (compressed, encrypted, zip64, a descriptor not giving the data's size): the
 * caller then reads on with a general unzipper. torch.save writes a descriptor after each entry;
 * where `sizeOf` knows the data's size (a storage's, from the pickle) it must be right there,
 * else it is looked for (signature, then both sizes equal to the distance), from `scan.from` on.
 */
export function readStoredEntry(
  file: Uint8Array,
  arrived: number,
  at: number,
  sizeOf: (name: string) => number | undefined,
  scan: { from: number },
): StoredEntry | 'more' | 'end' | null {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const u32 = (i: number) => view.getUint32(i, true);
  const u16 = (i: number) => view.getUint16(i, true);
  if (arrived < at + 4) return 'more';
  if (u32(at) === CENTRAL) return 'end';
  if (u32(at) !== LOCAL) return null;
  if (arrived < at + 30) return 'more';
  const flags = u16(at + 6);
  if (u16(at + 8) !== 0 || flags & 1) return null;
  const start = at + 30 + u16(at + 26) + u16(at + 28);
  if (arrived < start) return 'more';
  const name = new TextDecoder().decode(file.subarray(at + 30, at + 30 + u16(at + 26)));
  const entry = (end: number, next: number): StoredEntry => ({ name, start, end, next });
  const descriptorAt = (end: number) => u32(end) === DESCRIPTOR && u32(end + 8) === end - start && u32(end + 12) === end - start;
  if (!(flags & 8)) {
    const size = u32(at + 18);
    if (size === 0xffffffff) return null;
    return arrived < start + size ? 'more' : entry(start + size, start + size);
  }
  const size = sizeOf(name);
  if (size !== undefined) {
    if (arrived < start + size + 16) return 'more';
    return descriptorAt(start + size) ? entry(start + size, start + size + 16) : null;
  }
  for (let q = Math.max(start, scan.from); q + 16 <= arrived; q++) {
    if (file[q] === 0x50 && descriptorAt(q)) return entry(q, q + 16);
  }
  scan.from = Math.max(start, arrived - 15);
  return 'more';
}
