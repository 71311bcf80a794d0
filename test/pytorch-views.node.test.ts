import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
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

test.each([1000, 4099, 1 << 20])('in pieces of %i bytes, every tensor is a view of the file with the bytes torch wrote', (piece) => {
  const file = new Uint8Array(readFileSync(FILE));
  const tensors = parse(file, piece);
  expect(tensors.length).toBeGreaterThan(10);
  for (const t of tensors) expect(t.bytes.buffer, t.name).toBe(file.buffer);
  // The values real PyTorch reads from the file, as hex of their little-endian bytes (exact).
  const torch = JSON.parse(execFileSync('/usr/bin/python3', ['-c',
    `import json, torch; print(json.dumps({k: v.contiguous().numpy().tobytes().hex() for k, v in torch.load(${JSON.stringify(FILE)}).items()}))`]).toString()) as Record<string, string>;
  expect(tensors.map((t) => t.name).sort()).toEqual(Object.keys(torch).sort());
  for (const t of tensors) expect(Buffer.from(t.bytes).toString('hex'), t.name).toBe(torch[t.name]);
});
