import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, test } from 'vitest';
import { torchZipParser } from '../src/loader/pytorch.js';
import type { RawTensor } from '../src/loader/tensors.js';

/**
 * A torch.save file's stored storages are views of the file's one buffer, not copies: fflate
 * hands stored data over in copies, and keeping those cost a second file's worth of memory while
 * a ResNet-50 loaded (bench/load-memory.mjs). Fed in odd-sized pieces as a download would be.
 */
const FILE = resolve(import.meta.dirname, '../examples/breast_cancer.pt');

function parse(file: Uint8Array, piece: number): RawTensor[] {
  const tensors: RawTensor[] = [];
  const parser = torchZipParser({ header: () => undefined, tensor: (t) => tensors.push(t) });
  let arrived = 0;
  while (arrived < file.byteLength) parser.advance({ file, arrived: (arrived = Math.min(file.byteLength, arrived + piece)) });
  parser.finish({ file, arrived });
  return tensors;
}

/** The values real PyTorch reads from a file, as hex of their little-endian bytes (exact). */
function torchTensors(file: string): Record<string, string> {
  const code = `import json, torch; print(json.dumps({k: v.contiguous().numpy().tobytes().hex() for k, v in torch.load(${JSON.stringify(file)}).items()}))`;
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', code]).toString()) as Record<string, string>;
}

test.each([1000, 4099, 1 << 20])('in pieces of %i bytes, every tensor is a view of the file with the bytes torch wrote', (piece) => {
  const file = new Uint8Array(readFileSync(FILE));
  const tensors = parse(file, piece);
  expect(tensors.length).toBeGreaterThan(10);
  for (const t of tensors) expect(t.bytes.buffer, t.name).toBe(file.buffer);
  const torch = torchTensors(FILE);
  expect(tensors.map((t) => t.name).sort()).toEqual(Object.keys(torch).sort());
  for (const t of tensors) expect(Buffer.from(t.bytes).toString('hex'), t.name).toBe(torch[t.name]);
});

test('a .pt whose entries are deflated (re-zipped, as torch.load also reads) gives the same tensors, through fflate', () => {
  // Every entry deflated: the in-place reader declines the first one, and fflate reads them all.
  const deflated = join(mkdtempSync(join(tmpdir(), 'resgpu-deflated-')), 'model.pt');
  execFileSync('/usr/bin/python3', ['-c', [
    'import sys, zipfile',
    'src = zipfile.ZipFile(sys.argv[1])',
    'with zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED) as out:',
    '    for i in src.infolist(): out.writestr(i.filename, src.read(i))',
  ].join('\n'), FILE, deflated]);
  const tensors = parse(new Uint8Array(readFileSync(deflated)), 4099);
  const torch = torchTensors(deflated);
  expect(tensors.map((t) => t.name).sort()).toEqual(Object.keys(torch).sort());
  for (const t of tensors) expect(Buffer.from(t.bytes).toString('hex'), t.name).toBe(torch[t.name]);
});
