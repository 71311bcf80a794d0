import { execFileSync } from 'node:child_process';
import { expect, test } from 'vitest';
import { halfBits } from '../src/runtime/webgpu/half.js';

/**
 * precision: 'f16' stores weights rounded by halfBits; it must round exactly as PyTorch's
 * .half() does (nearest, ties to even; subnormals; overflow to infinity; NaN kept), checked
 * bit for bit against real PyTorch on edge cases and random values.
 */
test('halfBits rounds float32 to float16 bit for bit as PyTorch does', () => {
  const f32 = (x: number) => Math.fround(x);
  const edge = [0, -0, 1, -1, 65504, 65519.996, 65520, 1e6, -1e6, Infinity, -Infinity, 6.1035156e-5, 6.0975552e-5, 5.96e-8, 2.98e-8, 2.99e-8,
    1e-8, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -12, 2049, 2051, 0.1, 1 / 3, -2.5e-6, 3.0517578125e-5];
  let seed = 7;
  const random = Array.from({ length: 400 }, (_, i) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return (seed / 2 ** 31 - 0.5) * 10 ** ((i % 12) - 8);
  });
  const values = [...edge, ...random].map(f32);
  const script = 'import json,sys,torch; v=[float(x) for x in json.load(sys.stdin)]; print(json.dumps(torch.tensor(v, dtype=torch.float32).half().view(torch.int16).tolist()))';
  const torchBits = JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(values.map((v) => (Object.is(v, -0) ? '-0' : String(v)))) }).toString()) as number[];
  expect(values.map(halfBits)).toEqual(torchBits.map((b) => b & 0xffff));
  expect(halfBits(NaN) & 0x7c00).toBe(0x7c00);
  expect(halfBits(NaN) & 0x3ff).not.toBe(0);
});
