import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { loadModel, type LoadProgress, type Model } from '../src/index.js';
import { makeRandomModel, randomInput } from './helpers/random-model.js';

/**
 * Model files on disk in Node: a path (relative or absolute) or a file: URL is streamed with
 * fs.createReadStream, with download progress, and gives the model the bytes give. On the CPU
 * reference, so that only the reading is under test.
 */
const EXAMPLE = resolve(import.meta.dirname, '../examples/breast_cancer.pt');
const x = randomInput(3, 30);
let expected: Float32Array;
beforeAll(async () => {
  const { readFileSync } = await import('node:fs');
  const model = await loadModel(readFileSync(EXAMPLE), { backend: 'cpu' });
  expected = await model.run(x);
});

async function runAndDispose(model: Model) {
  const y = await model.run(x);
  await model.dispose();
  return y;
}

describe('in Node, a string or file: URL that is not http(s) is a file on disk', () => {
  test.each([
    ['a relative path', relative(process.cwd(), EXAMPLE)],
    ['an absolute path', EXAMPLE],
    ['a file: URL string', pathToFileURL(EXAMPLE).href],
    ['a file: URL object', pathToFileURL(EXAMPLE)],
  ])('%s', async (_, source) => {
    expect(await runAndDispose(await loadModel(source, { backend: 'cpu' }))).toEqual(expected);
  });

  test('is streamed: download progress in several chunks, up to the file size', async () => {
    // 1.2 MB of weights: more than one 1 MiB read.
    const big = makeRandomModel({ input: 256, blocks: [{ hidden: 512 }, { hidden: 256 }], head: { out: 4 } });
    const file = join(mkdtempSync(join(tmpdir(), 'resgpu-file-')), 'big.safetensors');
    writeFileSync(file, big.bytes);
    const progress: LoadProgress[] = [];
    const model = await loadModel(file, { backend: 'cpu', onProgress: (p) => progress.push(p) });
    await model.dispose();
    const download = progress.filter((p) => p.stage === 'download');
    expect(download.length).toBeGreaterThan(2);
    expect(download.every((p) => p.totalBytes === big.bytes.byteLength)).toBe(true);
    expect(download.map((p) => p.loadedBytes)).toEqual([...download.map((p) => p.loadedBytes)].sort((a, b) => a - b));
    expect(download.at(-1)!.loadedBytes).toBe(big.bytes.byteLength);
  });

  test('a missing file is a FetchError naming it', async () => {
    await expect(loadModel('no/such/model.pt', { backend: 'cpu' })).rejects.toMatchObject({
      name: 'FetchError',
      code: 'FETCH',
      message: expect.stringMatching(/no\/such\/model\.pt.*ENOENT/),
    });
  });
});

test('with no adapter, the error names the fixes in Node: a GPU driver, SwiftShader, or a backend without WebGPU', async () => {
  const noAdapter = { requestAdapter: async () => null } as unknown as GPU;
  const error = await loadModel(EXAMPLE, { gpu: noAdapter }).catch((e: Error) => e);
  expect(error).toMatchObject({ name: 'WebGPUUnavailableError', code: 'WEBGPU_UNAVAILABLE' });
  const { message } = error as Error;
  for (const fix of ['driver', 'VK_ICD_FILENAMES', 'SwiftShader', "backend: 'wasm'", "backend: 'cpu'"]) expect(message).toContain(fix);
  expect(message).not.toContain('Chrome');
});
