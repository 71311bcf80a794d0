import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadModel, type Model } from '../../src/index.js';
import { nodeGpu } from './node-gpu.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = resolve(ROOT, 'bin/resgpu.mjs');
/** The server package's own command (serve/bin/resgpu-serve.mjs → serve/dist, built by the global setup). */
export const SERVE_BIN = resolve(ROOT, 'serve/bin/resgpu-serve.mjs');

export function example(name: string): Uint8Array {
  return readFileSync(resolve(ROOT, 'examples', name));
}

/** examples/breast_cancer.test.json: raw measurements, labels, and PyTorch's logits recorded at training. */
export const BREAST_CANCER = JSON.parse(readFileSync(resolve(ROOT, 'examples/breast_cancer.test.json'), 'utf8')) as {
  feature_names: string[];
  classes: string[];
  inputs: number[][];
  torch_logits: number[][];
};

/** The example on WebGPU (Dawn on SwiftShader) and on the float64 CPU reference. */
export async function loadBoth(file: string): Promise<{ gpu: Model; cpu: Model }> {
  const bytes = example(file);
  const [gpu, cpu] = await Promise.all([loadModel(bytes, { gpu: await nodeGpu() }), loadModel(bytes, { backend: 'cpu' })]);
  return { gpu, cpu };
}

export async function postJson(url: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

/** The CPU reference's outputs for rows, as rows. */
export async function referenceRows(cpu: Model, rows: number[][]): Promise<number[][]> {
  const y = await cpu.run(Float32Array.from(rows.flat()));
  return rows.map((_, r) => Array.from(y.subarray(r * cpu.outputSize, (r + 1) * cpu.outputSize)));
}

/** The resgpu command as users run it (bin/resgpu.mjs → dist/cli.js, built by the global setup). */
export function runCli(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((ok, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd ?? ROOT, env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code) => ok({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/**
 * `resgpu-serve ...` in a child process (or `resgpu serve ...` with `via: 'resgpu'`); resolves
 * once it prints its URL.
 */
export function spawnServer(args: string[], { via = 'resgpu-serve', cwd = ROOT }: { via?: 'resgpu' | 'resgpu-serve'; cwd?: string } = {}): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null>; stdout: () => string; stderr: () => string }> {
  const command = via === 'resgpu' ? [BIN, 'serve'] : [SERVE_BIN];
  const child = spawn(process.execPath, [...command, ...args, '--port', '0'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((ok) => child.on('exit', (code) => ok(code)));
  return new Promise((ok, fail) => {
    let stdout = '';
    child.stdout!.on('data', (d) => {
      stdout += d;
      const url = /at (http:\/\/[\d.]+:\d+)/.exec(stdout)?.[1];
      if (url) ok({ child, url, exited, stdout: () => stdout, stderr: () => stderr });
    });
    void exited.then((code) => fail(new Error(`${via} exited (${code}) before it was ready: ${stderr}`)));
  });
}
