import { describe, expect, test } from 'vitest';
import { GraphError, loadModel, ModelFormatError, ResgpuError } from '../src/index.js';
import { torchFile } from './helpers/torch-cases.js';

/**
 * Bounded parsing: hostile files (test/python/make_hostile_cases.py) cost at most a small
 * multiple of their size in memory and time, and fail with typed errors. Memory is checked as
 * growth of the process's resident set across the load, with a 256 MiB ceiling: the unbounded
 * behaviours these replace took 2 GB or more, and a bounded load of a 1 MB file needs far less;
 * the slack covers the garbage collector's timing.
 */
const cpu = { backend: 'cpu' } as const;
const MEMORY_CEILING = 256 * 1024 * 1024;

async function refusedWithin(name: string): Promise<ResgpuError> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  try {
    const e = await loadModel(torchFile(`hostile/${name}.pt`), cpu).then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(ResgpuError);
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(peak - before).toBeLessThan(MEMORY_CEILING);
    return e as ResgpuError;
  } finally {
    clearInterval(sampler);
  }
}

describe('hostile .pt files', () => {
  test('a 1 MB zip bomb (1 GiB of deflated zeros as a 16-float storage) stops at the storage size', async () => {
    expect((await refusedWithin('zip_bomb')).message).toMatch(/"archive\/data\/0" inflates past 64 bytes, the size of the storage/);
  });
  test('a compressed storage of the right size still loads', async () => {
    const model = await loadModel(torchFile('hostile/compressed_ok.pt'), cpu);
    expect(model.outputSize).toBe(4);
  });
  test('a negative storage offset is refused (it would read from the storage end)', async () => {
    expect((await refusedWithin('negative_offset')).message).toMatch(/negative storage offset -4/);
  });
  test('weights viewing one element through zero strides are refused before they are materialised', async () => {
    expect((await refusedWithin('stride0')).message).toMatch(/has \d+ elements but its storage only 1, .*stride-0/);
  });
  test('two data.pkl entries are refused, on the reference and in a streamed WebGPU load', async () => {
    const e = await refusedWithin('two_pickles');
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.message).toMatch(/second pickle|two entries named "archive\/data\.pkl"/);
  });
  test('300,000 items in one APPENDS are a typed error, not a stack overflow', async () => {
    expect((await refusedWithin('huge_appends')).message).toMatch(/does not hold a state_dict/);
  });
  test('40,000 Linears in a 3 MB file are refused quickly (the layer cap), with no quadratic work', async () => {
    const started = performance.now();
    const e = await refusedWithin('many_layers');
    expect(e).toBeInstanceOf(GraphError);
    expect(e.message).toMatch(/more than the 10000 layers/);
    expect(performance.now() - started).toBeLessThan(20_000); // was 83 s; about 1 s here
  });
  test('a zero-width hidden layer (Linear(30, 0), which PyTorch accepts) is refused, not run on zero-size buffers', async () => {
    const e = await refusedWithin('zero_width');
    expect(e).toBeInstanceOf(GraphError);
    expect(e.message).toMatch(/Linear "linear1" is zero-width \(30 inputs, 0 outputs/);
  });
});

describe('manifests that ask for more than the file holds', () => {
  const weights = torchFile('hostile/compressed_ok.pt');
  test('one tiny Linear repeated a million times is refused up front', async () => {
    const layers = Array.from({ length: 1_000_000 }, () => ({ type: 'linear', linear: 'linear2' }));
    const e = await loadModel({ weights, graph: { format: 'resgpu-graph', version: 1, input: 4, layers } as never }, cpu).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ModelFormatError);
    expect((e as Error).message).toMatch(/1000000 layers, more than the 10000/);
  });
  test('a prefix used twice is refused (shared weights would cost memory out of proportion)', async () => {
    const layers = [{ type: 'linear', linear: 'linear2' }, { type: 'linear', linear: 'linear2' }];
    const e = await loadModel({ weights, graph: { format: 'resgpu-graph', version: 1, input: 4, layers } as never }, cpu).catch((x: unknown) => x);
    expect((e as Error).message).toMatch(/graph's layers\[1\]\.linear names "linear2", already used by layers\[0\]\.linear/);
  });
});
