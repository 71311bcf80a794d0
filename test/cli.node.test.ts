import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { beforeAll, describe, expect, test } from 'vitest';
import { main } from '../src/cli/main.js';
import { loadModel, type Model } from '../src/index.js';
import { expectClose } from './helpers/compare.js';
import { VISION_CASES_DIR } from './global-setup.js';
import { BREAST_CANCER, example, referenceRows, ROOT, runCli } from './helpers/serve.js';

/**
 * The resgpu command as users run it (bin/resgpu.mjs → dist/cli.js): help, exit codes, info,
 * run and export. Outputs of `run` (the engine's default backend: WebGPU on SwiftShader here)
 * are checked against the float64 CPU reference within helpers/compare.ts's 1e-4 · max(1, |ref|).
 */
const DIR = mkdtempSync(join(tmpdir(), 'resgpu-cli-'));
const ROWS = BREAST_CANCER.inputs.slice(0, 6);
const FEATURES = BREAST_CANCER.feature_names;
let reference: Model;
beforeAll(async () => {
  reference = await loadModel(example('breast_cancer.safetensors'), { backend: 'cpu' });
});

/** The CLI in this process (no Node start-up per case), for what needs no model. */
async function mainHere(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { out: (s) => (stdout += `${s}\n`), err: (s) => (stderr += `${s}\n`) });
  return { code, stdout, stderr };
}

describe('help and usage errors', () => {
  test.each(['serve', 'info', 'run', 'export'])('resgpu %s --help', async (command) => {
    const { code, stdout } = await mainHere([command, '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain(`Usage: resgpu ${command}`);
  });

  test('resgpu --help (the installed command) lists the commands and the exit codes', async () => {
    const { code, stdout } = await runCli(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/serve .*\n.*info .*\n.*run .*\n.*export /);
    expect(stdout).toContain('Exit codes:');
    expect((await runCli(['predict'])).code).toBe(2);
  });

  test.each([
    [[], 'no command given'],
    [['predict'], 'unknown command'],
    [['info', 'examples/breast_cancer.pt', '--bogus'], 'Unknown option'],
    [['info'], 'missing MODEL'],
    [['serve', 'examples/breast_cancer.pt', '--port', 'eighty'], '--port must be a whole number'],
    [['run', 'examples/breast_cancer.pt'], 'missing --input'],
    [['run', 'examples/breast_cancer.pt', '--input', 'x.csv', '--format', 'xml'], '--format must be csv or json'],
  ])('exit 2 for %j', async (args, why) => {
    const { code, stdout, stderr } = await mainHere(args);
    expect(code).toBe(2);
    expect(stdout + stderr).toContain(why);
  });
});

describe('resgpu info', () => {
  test('prints the graph, the folded BatchNorms and the dispatches of one run', async () => {
    // WebGPU asked for: on a software adapter the default ('auto') runs wasm, which dispatches nothing.
    const { code, stdout } = await runCli(['info', 'examples/breast_cancer.pt', '--backend', 'webgpu']);
    expect(code).toBe(0);
    expect(stdout).toContain('examples/breast_cancer.pt: 30 inputs → 2 outputs, 4 layers, backend webgpu');
    expect(stdout).toMatch(/blocks\.0 +residual_block +30 → 64, projection shortcut; BatchNorms folded: blocks\.0\.bn1, blocks\.0\.bn2, blocks\.0\.shortcut\.1/);
    expect(stdout).toContain('BatchNorms folded: 7');
    expect(stdout).toContain('dispatches per run (batch 1): 7 in 1 submit');
  });

  test('--input-shape loads a torchvision ResNet .pt, which records no image size', async () => {
    const file = join(VISION_CASES_DIR, 'resnet18.pt');
    const { code, stdout } = await runCli(['info', file, '--backend', 'webgpu', '--input-shape', '3,64,64']);
    expect(code).toBe(0);
    expect(stdout).toContain('12288 inputs (an image [3, 64, 64]) → 10 outputs');
    expect(stdout).toContain('dispatches per run (batch 1): 19 in 1 submit'); // stem 2, 8 blocks of 2, global pooling + fc 1
    expect(stdout).toMatch(/^fingerprint: sha256:[0-9a-f]{64} \(file sha256:[0-9a-f]{64}\)$/m);
    const refused = await runCli(['info', file, '--input-shape', '3,x']);
    expect([refused.code, refused.stderr]).toEqual([2, expect.stringContaining('--input-shape must be 1 to 3 positive whole numbers')]);
  });

  test('--json gives describe() with the feature names and labels', async () => {
    const { code, stdout } = await runCli(['info', 'examples/breast_cancer.safetensors', '--json', '--batch', '8', '--backend', 'webgpu']);
    expect(code).toBe(0);
    const info = JSON.parse(stdout);
    expect(info).toMatchObject({ inputSize: 30, outputSize: 2, batch: 8, labels: ['malignant', 'benign'] });
    expect(info.features).toEqual(FEATURES);
    expect(info.dispatches).toHaveLength(7);
  });

  test('loads a model from an http URL', async () => {
    const file = example('breast_cancer.safetensors');
    const server = createServer((_req, res) => res.writeHead(200, { 'content-length': file.byteLength }).end(file));
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/breast_cancer.safetensors`;
      const { code, stdout } = await runCli(['info', url, '--backend', 'cpu']);
      expect(code).toBe(0);
      expect(stdout).toContain(`${url}: 30 inputs → 2 outputs`);
    } finally {
      server.close();
    }
  });

  test('exit 2 for a backend the engine does not know (passed through as given)', async () => {
    const { code, stderr } = await runCli(['info', 'examples/breast_cancer.pt', '--backend', 'bogus']);
    expect(code).toBe(2);
    expect(stderr).toContain('--backend: Unknown backend "bogus"');
  });

  test('exit 3 for a missing file, or one that is no model', async () => {
    for (const file of ['examples/nothing.pt', 'README.md']) {
      const { code, stderr } = await runCli(['info', file, '--backend', 'cpu']);
      expect(code).toBe(3);
      expect(stderr).toContain(`${file}`);
    }
  });
});

describe('resgpu run', () => {
  test('CSV with a header of feature names, in any column order → CSV named by the labels', async () => {
    const order = [...FEATURES.keys()].reverse();
    const csv = [order.map((i) => `"${FEATURES[i]}"`).join(','), ...ROWS.map((row) => order.map((i) => row[i]).join(','))].join('\n');
    writeFileSync(join(DIR, 'rows.csv'), csv);
    const { code, stdout, stderr } = await runCli(['run', 'examples/breast_cancer.safetensors', '--input', join(DIR, 'rows.csv')]);
    expect(stderr.replace(/.*XDG_RUNTIME_DIR.*\n/g, '')).toBe('');
    expect(code).toBe(0);
    const [header, ...lines] = stdout.trim().split('\n');
    expect(header).toBe('malignant,benign,predicted');
    const outputs = lines.map((l) => l.split(',').slice(0, 2).map(Number));
    expectClose(outputs.flat(), (await referenceRows(reference, ROWS)).flat());
  });

  test('JSON rows from stdin → JSON, on the backend asked for (the .pt has no names: plain outputs)', async () => {
    const args = ['run', 'examples/breast_cancer.pt', '--input', '-', '--backend', 'cpu'];
    const { code, stdout } = await runCli(args, { input: JSON.stringify(ROWS) });
    expect(code).toBe(0);
    const answer = JSON.parse(stdout);
    expect(answer.labels).toBeUndefined();
    expectClose(answer.outputs.flat(), (await referenceRows(reference, ROWS)).flat());
  });

  test('exit 4 for rows that do not fit the model, or no rows file', async () => {
    writeFileSync(join(DIR, 'short.json'), JSON.stringify([ROWS[0]!.slice(1)]));
    const short = await runCli(['run', 'examples/breast_cancer.pt', '--input', join(DIR, 'short.json'), '--backend', 'cpu']);
    expect(short.code).toBe(4);
    expect(short.stderr).toContain('row 0 has 29 values; the model takes 30');
    const none = await runCli(['run', 'examples/breast_cancer.pt', '--input', join(DIR, 'none.json'), '--backend', 'cpu']);
    expect(none.code).toBe(4);
  });
});

describe('resgpu export', () => {
  test('exit 5, saying what to install, when the interpreter has no PyTorch', async () => {
    const { code, stderr } = await runCli(['export', 'm.pth', 'out.safetensors', '--python', '/bin/false']);
    expect(code).toBe(5);
    expect(stderr).toContain('pip install torch');
  });

  test('writes a .safetensors with feature names and labels from a torch.save(model) file', async () => {
    // Real PyTorch (Debian's python3-torch): a whole model, as torch.save(model) writes it.
    const pth = join(DIR, 'whole.pth');
    execFileSync('/usr/bin/python3', ['-c', [
      'import sys, torch',
      `sys.path.insert(0, ${JSON.stringify(resolve(ROOT, 'tools'))})`,
      'from residual_mlp import ResidualMLP',
      'torch.manual_seed(0)',
      `torch.save(ResidualMLP(3, [(8, 8)], out_features=2).eval(), ${JSON.stringify(pth)})`,
    ].join('\n')]);
    const out = join(DIR, 'whole.safetensors');
    const env = { PYTHONPATH: resolve(ROOT, 'tools') }; // where torch.load finds ResidualMLP
    const args = ['export', pth, out, '--python', '/usr/bin/python3'];
    const ok = await runCli([...args, '--features', 'age,bmi,glucose', '--labels', 'no,yes'], { env });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const info = JSON.parse((await runCli(['info', out, '--backend', 'cpu', '--json'])).stdout);
    expect(info).toMatchObject({ features: ['age', 'bmi', 'glucose'], labels: ['no', 'yes'], inputSize: 3, outputSize: 2 });
    const refused = await runCli([...args, '--labels', 'a,b,c'], { env });
    expect(refused.code).toBe(6);
    expect(refused.stderr).toContain('3 labels given, but the model has 2');
  });
});

describe('packaging', () => {
  test('the library bundle imports none of the server\'s dependencies; the CLI reuses it', () => {
    const library = readFileSync(resolve(ROOT, 'dist/resgpu.js'), 'utf8');
    const imports = [...library.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)].map((m) => m[1]);
    const serverOnly = ['fastify', '@fastify/', 'prom-client', 'csv-parse', 'secure-json-parse', 'node:'];
    expect(imports.filter((i) => serverOnly.some((s) => i!.startsWith(s)))).toEqual([]);
    expect(library).not.toMatch(/fastify|prom-client/i);
    const cli = readFileSync(resolve(ROOT, 'dist/cli.js'), 'utf8');
    expect(cli).toMatch(/from "\.\/resgpu\.js"/);
    // The engine is not bundled twice: the manifest's format tag lives in the library only.
    expect(library).toContain('resgpu-graph');
    expect(cli).not.toContain('resgpu-graph');
  });
});
