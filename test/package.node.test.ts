import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, test } from 'vitest';

/**
 * The package as a user meets it: `npm pack`, then `npm install` of the tarball into a fresh
 * project (from npm's cache when it is warm, the registry otherwise), which imports and
 * requires it, type-checks against it with skipLibCheck: false and no @webgpu/types, and runs
 * the README's Node example as written. A browser app's install brings resgpu alone: no web
 * server, UI or metrics package (those are resgpu-serve's, tested from its own tarball in
 * serve/test/package.node.test.ts). Also: a safetensors-only app bundle carries no protobuf.
 */
const ROOT = resolve(import.meta.dirname, '..');
const APP = mkdtempSync(join(tmpdir(), 'resgpu-consumer-'));
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const run = promisify(execFile);
const sh = (file: string, args: string[], cwd = APP) => run(file, args, { cwd, maxBuffer: 1 << 26, env: { ...process.env, npm_config_update_notifier: 'false' } });

let packed: string[] = [];

beforeAll(async () => {
  // The global setup built the bundles and emitted the declarations.
  const { stdout } = await sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', APP], ROOT);
  const [info] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
  packed = info!.files.map((f) => f.path);
  writeFileSync(join(APP, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  await sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', join(APP, info!.filename)]);
}, 180_000);

describe('the tarball', () => {
  test('holds the bundles, the types, the docs, the license, the bin and the Python exporter', () => {
    for (const file of ['dist/resgpu.js', 'dist/node.js', 'dist/cli.js', 'dist/types/index.d.ts', 'dist/types/node.d.ts',
      'README.md', 'LICENSE', 'CHANGELOG.md', 'package.json', 'bin/resgpu.mjs', 'tools/export_resgpu.py',
      'tools/resgpu_trace.py', 'tools/resgpu_manifest.py']) {
      expect(packed).toContain(file);
    }
  });

  test('holds nothing else: no sources, shaders (WGSL is inlined), tests or benchmarks', () => {
    expect(packed.filter((f) => !/^(dist\/|bin\/|tools\/(export_resgpu|resgpu_trace|resgpu_manifest)\.py$|README\.md$|LICENSE$|CHANGELOG\.md$|package\.json$)/.test(f))).toEqual([]);
  });

  test('declares no runtime dependency: what it needs is bundled (fflate, onnx-proto, csv-parse)', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    expect(manifest.dependencies ?? {}).toEqual({});
  });
});

describe('a fresh browser app\'s install', () => {
  test('brings resgpu alone: no web server, UI, metrics, JSON or CSV package', () => {
    const installed = readdirSync(join(APP, 'node_modules')).filter((n) => !n.startsWith('.') && n !== 'webgpu'); // webgpu: linked by the Node example below
    expect(installed).toEqual(['resgpu']);
    const serverOnly = ['fastify', '@fastify', 'prom-client', 'secure-json-parse', 'csv-parse', 'swagger-ui-dist', 'pino'];
    expect(readdirSync(join(APP, 'node_modules')).filter((n) => serverOnly.includes(n))).toEqual([]);
  });

  test('`resgpu serve` without resgpu-serve says what to install, and exits 5', async () => {
    const result = await sh(process.execPath, [join(APP, 'node_modules/resgpu/bin/resgpu.mjs'), 'serve', 'model.pt']).catch((e: { code: number; stderr: string }) => e);
    expect((result as { code: number }).code).toBe(5);
    expect(result.stderr).toContain('npm install resgpu-serve');
  });
});

describe('a fresh project', () => {
  test('imports it and requires it, and both give the same module (no second copy)', async () => {
    const script = `
      const required = require('resgpu');
      import('resgpu').then((imported) => {
        console.log(JSON.stringify({
          same: required.ResgpuError === imported.ResgpuError,
          loadModel: typeof required.loadModel,
          nodeGpu: typeof require('resgpu/node').nodeGpu,
          version: require('resgpu/package.json').version,
        }));
      });`;
    const { stdout, stderr } = await sh(process.execPath, ['-e', script]);
    expect(JSON.parse(stdout)).toEqual({ same: true, loadModel: 'function', nodeGpu: 'function', version: expect.any(String) });
    expect(stderr).not.toMatch(/warning/i);
  });

  test("runs the README's Node example as written: a .pt from a path, on WebGPU", async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const example = /<!-- tested: node example -->\s*```js\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example, 'README.md has the Node example under its marker').toBeTruthy();
    writeFileSync(join(APP, 'example.mjs'), example!);
    copyFileSync(join(ROOT, 'examples/breast_cancer.pt'), join(APP, 'model.pt'));
    // `npm install webgpu`, as the README says; linked rather than copied (Dawn is 130 MB).
    mkdirSync(join(APP, 'node_modules'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules/webgpu'), join(APP, 'node_modules/webgpu'), 'dir');
    const { stdout } = await sh(process.execPath, ['example.mjs']);
    expect(stdout).toMatch(/^30 → 2 on webgpu/m);
    const outputs = /outputs: (.*)/.exec(stdout)?.[1]?.split(',').map(Number) ?? [];
    expect(outputs).toHaveLength(2);
    expect(outputs.every(Number.isFinite)).toBe(true);
  });

  // Valid uses compile; a wrong option must not (so the types are checked, not `any`).
  const CONSUMER = `
    import { loadModel, ResgpuError, type LoadOptions, type Model } from 'resgpu';
    import { nodeGpu } from 'resgpu/node';
    const options: LoadOptions = { gpu: await nodeGpu(), precision: 'f16', onProgress: (p) => p.loadedBytes };
    const model: Model = await loadModel('./model.pt', options);
    export const y: Float32Array = await model.run(new Float32Array(model.inputSize));
    export const code: string = new ResgpuError('GRAPH', 'x').code;
    // @ts-expect-error: not a precision
    await loadModel('./model.pt', { precision: 'f8' });
  `;

  test.each([
    ['Node (nodenext, no DOM library, @types/node)', { module: 'nodenext', lib: ['es2022'], types: ['node'], typeRoots: [join(ROOT, 'node_modules/@types')] }, 'consumer.mts'],
    ['a bundler app (DOM library)', { module: 'esnext', moduleResolution: 'bundler', lib: ['es2022', 'dom'], types: [] }, 'consumer.ts'],
  ])('type-checks a consumer with skipLibCheck: false and no @webgpu/types: %s', async (_, options, file) => {
    writeFileSync(join(APP, file), CONSUMER);
    const config = { compilerOptions: { target: 'es2022', strict: true, skipLibCheck: false, noEmit: true, ...options }, files: [file] };
    writeFileSync(join(APP, `tsconfig.${file}.json`), JSON.stringify(config));
    const result = await sh(process.execPath, [TSC, '-p', `tsconfig.${file}.json`]).catch((e: { stdout: string }) => e);
    expect(result.stdout).toBe('');
  });
});

test('a safetensors-only app bundle has no protobuf and no .pt reader: ONNX decoding and the .pt reader are chunks of their own', async () => {
  const { stdout } = await sh(process.execPath, [join(ROOT, 'tools/bundle-size.mjs'), '--json'], ROOT);
  const chunks = JSON.parse(stdout) as { name: string; bytes: number; protobuf: boolean; loadedAtStart: boolean }[];
  const atStart = chunks.filter((c) => c.loadedAtStart);
  expect(atStart.some((c) => c.protobuf)).toBe(false);
  expect(chunks.some((c) => c.protobuf && !c.loadedAtStart)).toBe(true);
  expect(chunks.some((c) => /^assets\/pytorch-/.test(c.name) && !c.loadedAtStart)).toBe(true);
  // The whole engine for safetensors, .pt and WebGPU, minified: 70 kB when this was written (198 kB
  // with protobuf); 96 kB before the op graph, 110 kB with it (node kinds, manifest v2, the fusion
  // pass, the LayerNorm and elementwise kernels, golden vectors and the self-test; the bundle's
  // WGSL without its comments); about 10 kB more with the image node kinds and torchvision
  // loading, and 11 kB more with the conv and pool kernels, the channels-last layout and their
  // fusion rules (measured with tools/bundle-size.mjs): 140 kB; then 111 kB once the .pt reader
  // (zip, unpickling, fflate) and the state_dict inference became a chunk loaded on the first .pt.
  expect(atStart.reduce((n, c) => n + c.bytes, 0)).toBeLessThan(125_000);
});
