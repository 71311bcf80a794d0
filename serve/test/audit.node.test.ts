import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { loadModel } from 'resgpu';
import { AuditLog, inputHash, type AuditEntry } from '../src/audit.js';
import { replayCommand } from '../src/replay.js';
import { ROOT, startServer } from './helpers.js';

/**
 * The audit log: one JSON line per answer naming the exact model, the mode, the request and a
 * hash of its input (the values only when asked), and a replay that checks the same bits come back.
 */
const MODEL = join(ROOT, 'examples/breast_cancer.safetensors');

async function serveAndLog(withInputs: boolean): Promise<{ log: string; entries: AuditEntry[] }> {
  const log = join(mkdtempSync(join(tmpdir(), 'resgpu-audit-')), 'audit.jsonl');
  const audit = AuditLog.open(log, withInputs);
  const model = await loadModel(MODEL, { backend: 'wasm', deterministic: true });
  const server = await startServer([{ name: 'bc', version: '1', file: 'breast_cancer.safetensors', model }], { audit });
  const row = (k: number) => Array.from({ length: 30 }, (_, i) => Math.sin(i + k) * 10);
  await fetch(`${server.url}/v2/models/bc/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'request-1', inputs: [{ name: 'input', shape: [2, 30], datatype: 'FP32', data: [row(1), row(2)] }] }),
  });
  await fetch(`${server.url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'request-2' }, body: JSON.stringify({ inputs: [row(3)] }) });
  await server.close();
  await audit.close();
  await model.dispose();
  return { log, entries: readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as AuditEntry) };
}

test('one line per answer: the model, its fingerprint, the mode, the request id, the input hash, the outputs; no inputs unless asked', async () => {
  const { entries } = await serveAndLog(false);
  expect(entries.map((e) => [e.request_id, e.model, e.rows, e.backend, e.deterministic])).toEqual([
    ['request-1', 'bc', 2, 'wasm', true],
    ['request-2', 'bc', 1, 'wasm', true],
  ]);
  for (const e of entries) {
    expect(e.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(e.input_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(e.outputs).toHaveLength(e.rows);
    expect(e).not.toHaveProperty('inputs');
    expect(Date.parse(e.time)).toBeGreaterThan(0);
  }
  // The hash is of the rows as little-endian float32.
  expect(inputHash(Float32Array.from(Array.from({ length: 30 }, (_, i) => Math.sin(i + 3) * 10)))).toBe(entries[1]!.input_sha256);
});

test('a log with inputs replays bit for bit; a changed output is caught', async () => {
  const { log, entries } = await serveAndLog(true);
  const printed: string[] = [];
  expect(await replayCommand([log, MODEL, '--backend', 'wasm'], (s) => printed.push(s))).toBe(0);
  expect(printed.join('\n')).toMatch(/replayed 2 of 2 logged answers .* every replayed answer is bitwise the same/);
  entries[0]!.outputs[1]![0] = entries[0]!.outputs[1]![0]! * (1 + 1e-5); // a few float32 units of the last place
  writeFileSync(log, entries.map((e) => JSON.stringify(e)).join('\n'));
  printed.length = 0;
  expect(await replayCommand([log, MODEL, '--backend', 'wasm'], (s) => printed.push(s))).toBe(6);
  expect(printed.join('\n')).toMatch(/request-1: output 2 is .*, logged/);
});
