import { execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { BREAST_CANCER, expectClose, ROOT } from './helpers.js';
import { infer } from './oip-client.js';

/**
 * resgpu-serve as a user installs it: both packages packed (`npm pack`), their tarballs
 * installed into a fresh project (resgpu-serve's dependency on resgpu satisfied by the
 * library's tarball; Fastify and the rest from npm's cache or the registry), then the
 * installed commands serve the example: `resgpu-serve` and `resgpu serve`, which hands over.
 */
const APP = mkdtempSync(join(tmpdir(), 'resgpu-serve-consumer-'));
const run = promisify(execFile);
const sh = (file: string, args: string[], cwd = APP) => run(file, args, { cwd, maxBuffer: 1 << 26, env: { ...process.env, npm_config_update_notifier: 'false' } });
let packed: string[] = [];

beforeAll(async () => {
  // The global setup built the bundles and emitted the library's declarations.
  const pack = async (cwd: string) => (JSON.parse((await sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', APP], cwd)).stdout) as { filename: string; files: { path: string }[] }[])[0]!;
  const [library, server] = [await pack(ROOT), await pack(join(ROOT, 'serve'))];
  packed = server.files.map((f) => f.path);
  writeFileSync(join(APP, 'package.json'), JSON.stringify({ name: 'server-app', private: true }));
  await sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', join(APP, library.filename), join(APP, server.filename)]);
  copyFileSync(join(ROOT, 'examples/breast_cancer.pt'), join(APP, 'breast_cancer.pt'));
}, 180_000);

const children: ReturnType<typeof spawn>[] = [];
afterAll(() => children.forEach((c) => c.kill('SIGKILL')));

test('the tarball holds the build, the bin, the manifest and the README; it depends on resgpu', () => {
  expect(packed.sort()).toEqual(['README.md', 'bin/resgpu-serve.mjs', 'dist/index.js', 'dist/index.js.map', 'package.json']);
  const manifest = JSON.parse(readFileSync(join(APP, 'node_modules/resgpu-serve/package.json'), 'utf8'));
  expect(manifest.dependencies.resgpu).toBe('^0.1.0');
  expect(manifest.bin).toEqual({ 'resgpu-serve': './bin/resgpu-serve.mjs' });
});

test.each([
  ['resgpu-serve', ['node_modules/.bin/resgpu-serve']],
  ['resgpu serve', ['node_modules/.bin/resgpu', 'serve']],
])('installed `%s` serves the example over the Open Inference Protocol, with PyTorch\'s outputs', async (_name, command) => {
  const child = spawn(command[0]!, [...command.slice(1), 'breast_cancer.pt', '--port', '0', '--backend', 'wasm'], { cwd: APP, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const url = await new Promise<string>((ok, fail) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const found = /at (http:\/\/[\d.]+:\d+)/.exec(out)?.[1];
      if (found) ok(found);
    });
    child.on('exit', (code) => fail(new Error(`exited ${code} before it was ready`)));
  });
  expect((await fetch(`${url}/v2/health/ready`)).status).toBe(200);
  const r = await infer(url, 'breast_cancer', { name: 'input', rows: BREAST_CANCER.inputs.slice(0, 5), datatype: 'FP32', binary: true });
  expect(r.status).toBe(200);
  expectClose(r.outputs, BREAST_CANCER.torch_logits.slice(0, 5).flat());
  child.kill('SIGTERM');
  expect(await new Promise((ok) => child.once('exit', ok))).toBe(0);
});
