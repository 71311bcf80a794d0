import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { KERNEL_VARIANTS, type LoadOptions } from '../src/options.js';
import { VISION_CASES_DIR } from './global-setup.js';
import { openChromePage, type ChromePage } from './helpers/chrome.js';
import { F16_TOLERANCE, pyFloats, pyNumber, scaledError } from './helpers/compare.js';

/**
 * Image ResNets in headless Chromium (the built bundle, on the page's WebGPU: SwiftShader here)
 * against PyTorch: torchvision's resnet18 at 3×64×64 and a Bottleneck ResNet at 3×32×32 from
 * test/python/make_vision_cases.py, as the bare .pt state_dict (inputShape given), the exporter's
 * .safetensors and ONNX (opset 17); f32 with every GEMM kernel forced (the fc; convs and pools
 * have one kernel each) within 2e-4 of the output scale, f16 weights within F16_TOLERANCE; the
 * dispatch counts of the fusion (BasicBlock 2, Bottleneck 3, read off describe().dispatches per
 * block). And the same networks on WebAssembly in Chrome, within 2e-4 too.
 */
interface Network {
  name: string;
  input_shape: number[];
  files: { pt?: string; safetensors: string; onnx: Record<string, string> };
  inputs: { rows: number; x: (number | string)[]; float32: (number | string)[] };
}
const networks = (JSON.parse(readFileSync(join(VISION_CASES_DIR, 'cases.json'), 'utf8')) as { networks: Network[] }).networks.filter((n) =>
  ['resnet18', 'bottleneck'].includes(n.name),
);

/** Dispatches per residual block of the fusion, and the whole count: stem conv + max pool, the blocks, global pool + fc (one). */
const PER_BLOCK: Record<string, number> = { resnet18: 2, bottleneck: 3 };
const BLOCKS: Record<string, number> = { resnet18: 8, bottleneck: 4 };
// f32 against PyTorch's float32: BatchNorm folded into the conv weights and another summation
// order over up to 4608-long dot products (3·3·512), as test/vision-webgpu.node.test.ts.
const F32_TOLERANCE = 2e-4;

let chrome: ChromePage;
beforeAll(async () => {
  chrome = await openChromePage();
});
afterAll(async () => {
  await chrome?.close();
});

interface Ran {
  y: number[] | null;
  error: string | null;
  backend: string | null;
  dispatches: { variant: string; nodes: string[] }[];
}

/** Loads the served file in the page (WebGPU on one shared device), runs x once, describes it; a load error comes back as 'Name: message'. */
function runInPage(url: string, options: LoadOptions, x: number[]): Promise<Ran> {
  return chrome.page.evaluate(
    async (url, options, x) => {
      try {
        if (options.backend === 'webgpu') window.sharedDevice ??= await (await navigator.gpu.requestAdapter())!.requestDevice();
        const model = await window.resgpu.loadModel(url, options.backend === 'webgpu' ? { ...options, device: window.sharedDevice } : options);
        const y = Array.from(await model.run(new Float32Array(x)));
        const dispatches = model.describe().dispatches.map((d) => ({ variant: d.variant, nodes: d.nodes }));
        await model.dispose();
        return { y, error: null, backend: model.backend, dispatches };
      } catch (e) {
        return { y: null, error: `${(e as Error).name}: ${(e as Error).message}`, backend: null, dispatches: [] };
      }
    },
    url,
    options,
    x,
  );
}

describe.each(networks)('Chrome: $name, $input_shape', (c) => {
  const files = [c.files.pt!, c.files.safetensors, c.files.onnx['17']!];
  const load = (file: string): LoadOptions => (file.endsWith('.pt') ? { inputShape: c.input_shape } : {});
  const x = Array.from(pyFloats(c.inputs.x));
  const expected = c.inputs.float32.map(pyNumber);
  const url = (file: string) => chrome.serve(file, new Uint8Array(readFileSync(join(VISION_CASES_DIR, file))));

  test.each(files)('%s on WebGPU matches PyTorch: f32 with each GEMM kernel forced, f16; its dispatches per block', async (file) => {
    const u = url(file);
    const errors: string[] = [];
    for (const kernel of KERNEL_VARIANTS) {
      const r = await runInPage(u, { ...load(file), backend: 'webgpu', kernel, precision: 'f32' }, x);
      expect(r.error).toBeNull();
      const error = scaledError(r.y!, expected);
      errors.push(`${kernel} f32 ${error.toExponential(2)}`);
      expect(error, `${kernel}, f32`).toBeLessThanOrEqual(F32_TOLERANCE);
      expect(r.dispatches).toHaveLength(2 + BLOCKS[c.name]! * PER_BLOCK[c.name]! + 1);
      // The fc, the one GEMM step, begins with the global pooling: its own kernel, whatever is forced.
      expect(r.dispatches.at(-1)!.variant).toBe('gemm_mean');
      // Each block (its nodes named after torchvision's layerN.M, by module or by ONNX node name) in PER_BLOCK dispatches.
      const perBlock = new Map<string, number>();
      for (const d of r.dispatches) {
        const block = /layer(\d)[._](\d)/.exec(d.nodes.join(' '))?.slice(1, 3).join('.');
        if (block) perBlock.set(block, (perBlock.get(block) ?? 0) + 1);
      }
      expect([...perBlock.values()]).toEqual(Array(BLOCKS[c.name]!).fill(PER_BLOCK[c.name]!));
    }
    const half = await runInPage(u, { ...load(file), backend: 'webgpu', precision: 'f16' }, x);
    expect(half.error).toBeNull();
    errors.push(`f16 ${scaledError(half.y!, expected).toExponential(2)}`);
    console.log(`Chrome WebGPU, ${file}: error of the output scale: ${errors.join(', ')}`);
    expect(scaledError(half.y!, expected), 'f16').toBeLessThanOrEqual(F16_TOLERANCE);
  });

  test(`${c.files.pt} on WebAssembly in Chrome: matches PyTorch`, async () => {
    const r = await runInPage(url(c.files.pt!), { ...load(c.files.pt!), backend: 'wasm' }, x);
    expect(r.error).toBeNull();
    expect(r.backend).toBe('wasm');
    expect(scaledError(r.y!, expected)).toBeLessThanOrEqual(F32_TOLERANCE);
  });
});

/** torchvision's own resnet50 (make_vision_cases.py's TORCHVISION: 3×40×40, 10 classes) from its bare .pt, on both backends in Chrome. */
interface Torchvision {
  name: string;
  input_shape: number[];
  files: { pt: string };
  x: (number | string)[];
  float64: (number | string)[];
}
describe('Chrome: torchvision resnet50 from its .pt', () => {
  const c = (JSON.parse(readFileSync(join(VISION_CASES_DIR, 'cases.json'), 'utf8')) as { torchvision: Torchvision[] }).torchvision.find((n) => n.name === 'resnet50')!;
  test.each(['webgpu', 'wasm'] as const)('on %s: matches PyTorch, a Bottleneck in 3 dispatches', async (backend) => {
    const u = chrome.serve(c.files.pt, new Uint8Array(readFileSync(join(VISION_CASES_DIR, c.files.pt))));
    const r = await runInPage(u, { backend, inputShape: c.input_shape }, Array.from(pyFloats(c.x)));
    expect(r.error).toBeNull();
    expect(r.backend).toBe(backend);
    expect(scaledError(r.y!, c.float64.map(pyNumber))).toBeLessThanOrEqual(F32_TOLERANCE);
    if (backend === 'webgpu') expect(r.dispatches).toHaveLength(2 + 16 * 3 + 1);
  }, 120_000);
});
