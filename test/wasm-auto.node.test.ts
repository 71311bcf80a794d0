import { afterEach, describe, expect, test, vi } from 'vitest';
import { loadModel } from '../src/index.js';
import { checkOptions } from '../src/options.js';
import { chooseBackend } from '../src/runtime/auto.js';
import { isSoftwareAdapter } from '../src/runtime/webgpu/device.js';
import { nodeGpu } from './helpers/node-gpu.js';
import { makeRandomModel } from './helpers/random-model.js';

/** backend: 'auto': which backend runs where, decided without fetching the model twice. */
afterEach(() => vi.unstubAllGlobals());

type Info = Partial<GPUAdapterInfo> & { isFallbackAdapter?: boolean };
const adapter = (info: Info) => ({ info }) as unknown as GPUAdapter;
const fakeGpu = (found: GPUAdapter | null | Error) =>
  ({ requestAdapter: async () => (found instanceof Error ? Promise.reject(found) : found) }) as unknown as GPU;

describe('software adapters', () => {
  test.each([
    ['Chrome on SwiftShader', { vendor: 'google', architecture: 'swiftshader', description: '' }],
    ['Mesa llvmpipe', { vendor: 'mesa', architecture: '', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' }],
    ['Mesa lavapipe', { vendor: 'mesa', architecture: '', description: 'lavapipe' }],
    ['Windows WARP', { vendor: 'microsoft', architecture: '', description: 'Microsoft Basic Render Driver' }],
    ['any fallback adapter', { vendor: 'x', architecture: 'y', description: 'z', isFallbackAdapter: true }],
  ])('%s is software', (_, info) => expect(isSoftwareAdapter(info as Info)).toBe(true));

  test.each([
    ['NVIDIA', { vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' }],
    ['Apple', { vendor: 'apple', architecture: 'metal-3', description: '' }],
    ['Intel', { vendor: 'intel', architecture: 'gen-12lp', description: 'Intel(R) UHD Graphics' }],
  ])('%s is hardware', (_, info) => expect(isSoftwareAdapter(info)).toBe(false));

  test("Dawn's adapter on this machine (SwiftShader) is recognised as software", async () => {
    const found = await (await nodeGpu()).requestAdapter();
    expect(isSoftwareAdapter(found!.info)).toBe(true);
  });
});

describe('chooseBackend', () => {
  test('an explicit backend is kept; a given gpu or device means WebGPU', async () => {
    for (const backend of ['webgpu', 'wasm', 'cpu'] as const) expect(checkOptions({ backend }).backend).toBe(backend);
    expect(checkOptions({ backend: 'reference' }).backend).toBe('cpu');
    expect(checkOptions({}).backend).toBe('auto');
    expect(await chooseBackend({ gpu: fakeGpu(null) })).toBe('webgpu');
    expect(await chooseBackend({ device: {} as GPUDevice })).toBe('webgpu');
  });

  test('WebGPU on a hardware adapter, wasm without WebGPU, without an adapter, or on a software one', async () => {
    expect(await chooseBackend({})).toBe('wasm'); // Node: no navigator.gpu
    const cases: [GPUAdapter | null | Error, string][] = [
      [adapter({ vendor: 'nvidia', architecture: 'hopper' }), 'webgpu'],
      [adapter({ vendor: 'google', architecture: 'swiftshader' }), 'wasm'],
      [null, 'wasm'],
      [new Error('adapter request failed'), 'wasm'],
    ];
    for (const [found, expected] of cases) {
      vi.stubGlobal('navigator', { gpu: fakeGpu(found) });
      expect(await chooseBackend({})).toBe(expected);
    }
  });
});

test('loadModel: the default is auto, and model.backend says where it runs', async () => {
  const { bytes } = makeRandomModel({ input: 4, blocks: [{ hidden: 8 }] });
  const plain = await loadModel(bytes);
  expect(plain.backend).toBe('wasm');
  await plain.dispose();
  const onGpu = await loadModel(bytes, { gpu: await nodeGpu() });
  expect(onGpu.backend).toBe('webgpu');
  await onGpu.dispose();
  await expect(loadModel(bytes, { backend: 'tpu' as 'wasm' })).rejects.toThrow(/Unknown backend "tpu": use 'auto', 'webgpu', 'wasm', 'cpu'/);
});
