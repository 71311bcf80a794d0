import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { fileURLToPath } from 'node:url';
import { assembleVariants, readModule, withoutRelaxedSimd, withUnsharedMemory } from '../tools/vite-plugin-wat.mjs';
import gemm from '../src/runtime/wasm/gemm.wat';
import { detectSimd } from '../src/runtime/wasm/simd.js';

/** The build of the WebAssembly module: the text rewrites behind its variants, and the variants. */
test('relaxed multiply-adds become a multiply and an add, nested operands kept whole', () => {
  const wat = '(local.set $c (f32x4.relaxed_madd (local.get $s) (v128.load offset=16 (local.get $w)) (local.get $c)))';
  expect(withoutRelaxedSimd(wat)).toBe('(local.set $c (f32x4.add (f32x4.mul (local.get $s) (v128.load offset=16 (local.get $w))) (local.get $c)))');
  expect(withUnsharedMemory('(import "env" "memory" (memory 1 65536 shared))')).toBe('(import "env" "memory" (memory 1 65536))');
  expect(() => withUnsharedMemory('(memory 1)')).toThrow(/shared/);
});

test('a relaxed instruction without a plain rewrite fails the build', async () => {
  const wat = '(module (import "env" "memory" (memory 1 1 shared)) (func (param v128) (result v128) (f32x4.relaxed_min (local.get 0) (local.get 0))))';
  await expect(assembleVariants('x.wat', wat)).rejects.toThrow(/no plain rewrite/);
});

test('the imported module carries four variants; this engine validates the ones it can run', () => {
  const bytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const simd = detectSimd();
  expect(simd).not.toBeNull(); // Node 20 has WebAssembly SIMD; relaxed SIMD from Node 22 (V8 11.4)
  for (const memory of ['shared', 'unshared'] as const) {
    expect(WebAssembly.validate(bytes(gemm.plain[memory]))).toBe(true);
    expect(WebAssembly.validate(bytes(gemm.relaxed[memory]))).toBe(simd === 'relaxed');
  }
  expect(readFileSync(new URL('../src/runtime/wasm/gemm.wat', import.meta.url), 'utf8')).toContain('f32x4.relaxed_madd');
});

test('(include "file") lines splice in the module\'s other files, each short enough to read in one sitting', async () => {
  const { text, files } = await readModule(fileURLToPath(new URL('../src/runtime/wasm/gemm.wat', import.meta.url)));
  expect(files.map((f) => f.split('/').pop())).toEqual(['gemm.wat', 'epilogue.wat', 'rows.wat', 'image.wat', 'winograd.wat']);
  expect(text).not.toMatch(/^\s*\(include /m);
  expect(text).toContain('(func $erf');
  for (const f of files) expect(readFileSync(f, 'utf8').split('\n').length).toBeLessThan(400);
});
