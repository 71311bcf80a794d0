import { expect, test } from 'vitest';
import { assignBuffers } from '../src/runtime/buffer-assignment.js';

/** reads[i] = values step i reads; step i writes value i + 1. */
function check(reads: number[][]) {
  const { bufferOf, bufferCount } = assignBuffers(reads);
  expect(bufferOf).toHaveLength(reads.length + 1);
  reads.forEach((inputs, step) => {
    // A dispatch never writes a buffer it reads.
    for (const v of inputs) expect(bufferOf[step + 1]).not.toBe(bufferOf[v]);
    // Nothing a step reads was overwritten since it was produced.
    for (const v of inputs) {
      for (let w = v + 1; w <= step; w++) expect(bufferOf[w]).not.toBe(bufferOf[v]);
    }
  });
  return bufferCount;
}

test('a chain of plain layers ping-pongs between two buffers', () => {
  expect(check([[0], [1], [2], [3], [4], [5]])).toBe(2);
});

test('residual blocks need three buffers however deep the stack', () => {
  // Each block: h = f(x); y = g(h, x).
  const reads: number[][] = [];
  let x = 0;
  for (let b = 0; b < 8; b++) {
    reads.push([x]);
    reads.push([reads.length, x]);
    x = reads.length;
  }
  reads.push([x]); // head
  expect(check(reads)).toBe(3);
});

test('a single step uses an input and an output buffer', () => {
  expect(check([[0]])).toBe(2);
});
