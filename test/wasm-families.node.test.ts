import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { loadModel } from '../src/index.js';
import { wasmTuning } from '../src/runtime/wasm/wasm-model.js';
import { FAMILY_CASES_DIR } from './global-setup.js';
import { GPU_TOLERANCE } from './helpers/compare.js';

/**
 * backend: 'wasm' on every residual network family test/python/make_family_cases.py makes with
 * PyTorch (rtdl's pre-norm ResNet with BatchNorms, widedeep's LeakyReLU, pre-LayerNorm MLPs with
 * GELU, tanh-GELU and SiLU, and the seed ResNet), from the exporter's .safetensors (manifest v2)
 * and torch.onnx.export's files at opsets 13 and 17, on 1 and 2 threads (every run threaded). Against PyTorch's float64 outputs: NaN and ±inf exactly where PyTorch has them,
 * finite values within GPU_TOLERANCE (compare.ts: f32 accumulation over a few layers; the
 * activations' own error is below 2e-7, epilogue.wat).
 */
type Encoded = (number | string)[];
interface FamilyCase {
  name: string;
  input_size: number;
  output_size: number;
  files: { pt: string; safetensors: string; onnx: Record<string, string> };
  inputs: { rows: number; x: Encoded; float64: Encoded };
  special: { rows: number; x: Encoded; float64: Encoded };
}
const decode = (v: Encoded) => Float32Array.from(v, (x) => (typeof x === 'string' ? Number(x.replace('inf', 'Infinity')) : x));
const families = (): FamilyCase[] => (JSON.parse(readFileSync(join(FAMILY_CASES_DIR, 'cases.json'), 'utf8')) as { families: FamilyCase[] }).families;

function expectLikePyTorch(actual: Float32Array, expected: Float32Array, width: number): void {
  expect(actual.length).toBe(expected.length);
  const wrong: string[] = [];
  for (let i = 0; i < expected.length; i++) {
    const [a, e] = [actual[i]!, expected[i]!];
    const ok = Number.isNaN(e) ? Number.isNaN(a) : Number.isFinite(e) ? Math.abs(a - e) <= GPU_TOLERANCE * Math.max(1, Math.abs(e)) : a === e;
    if (!ok) wrong.push(`row ${Math.floor(i / width)} col ${i % width}: got ${a}, PyTorch ${e}`);
  }
  expect(wrong).toEqual([]);
}

const defaultTuning = { ...wasmTuning };
afterEach(() => Object.assign(wasmTuning, defaultTuning));

describe.each(families().map((f) => [f.name, f] as const))('%s', (_, family) => {
  // A bare state_dict (.pt) records no activations: only the seed ResNet's graph can be inferred
  // from it (the loader refuses the others by name, tested there).
  const formats: [string, string][] = [
    ['safetensors', family.files.safetensors],
    ['onnx opset 13', family.files.onnx['13']!],
    ['onnx opset 17', family.files.onnx['17']!],
    ...(family.name === 'seed' ? [['pt', family.files.pt] as [string, string]] : []),
  ];
  test.each(formats)('from %s, on 1 and 2 threads, as PyTorch (finite, NaN and ±inf rows)', async (_format, file) => {
    wasmTuning.minFlopsForThreads = 0; // thread every run, however small
    const bytes = new Uint8Array(readFileSync(join(FAMILY_CASES_DIR, file)));
    for (const threads of [1, 2]) {
      const model = await loadModel(bytes, { backend: 'wasm', threads });
      expect(model.backend).toBe('wasm');
      for (const rows of [family.inputs, family.special]) {
        expectLikePyTorch(await model.run(decode(rows.x)), decode(rows.float64), family.output_size);
      }
      await model.dispose();
    }
  });
});
