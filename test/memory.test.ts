import { expect, test } from 'vitest';
import { release } from '../src/memory.js';

/** release(): the buffer's memory leaves with it (detached: every view empty), and what it cannot move it leaves alone. */
test('release detaches the buffer: no view of it reads stale numbers, iterating one throws', () => {
  const scratch = new Float32Array(1024).fill(1);
  const view = scratch.subarray(10, 20);
  release(scratch);
  expect(scratch.buffer.byteLength).toBe(0);
  expect(scratch.length).toBe(0);
  expect(view.length).toBe(0);
  expect(view[0]).toBeUndefined();
  expect(() => Array.from(view)).toThrow(TypeError);
});

test('release leaves shared and empty buffers as they are', () => {
  const shared = new Float32Array(new SharedArrayBuffer(16)).fill(2);
  release(shared);
  expect(Array.from(shared)).toEqual([2, 2, 2, 2]);
  const empty = new Float32Array(0);
  release(empty);
  expect(empty.buffer.byteLength).toBe(0);
});
