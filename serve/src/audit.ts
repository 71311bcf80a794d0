import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Model } from 'resgpu';

/**
 * The audit log (opt-in, `--audit FILE` or `--audit -` for stdout): one JSON line per answer,
 * saying which exact model answered, on what, in which mode, for which input, and what it said:
 *
 *   {"time", "request_id", "model", "version", "fingerprint", "file_fingerprint", "backend",
 *    "deterministic", "rows", "input_sha256", "outputs", ["inputs"]}
 *
 * `input_sha256` is SHA-256 of the request's rows as little-endian float32, the values the model
 * ran; the values themselves only with `--audit-inputs`. `outputs` are float32 values written so
 * that they read back exactly. `resgpu-serve replay LOG MODEL` runs the logged inputs again and
 * checks that the same bits come back (replay.ts).
 */
export interface AuditEntry {
  time: string;
  request_id: string;
  model: string;
  version: string;
  fingerprint: string | null;
  file_fingerprint: string | null;
  backend: string;
  deterministic: boolean;
  rows: number;
  input_sha256: string;
  outputs: number[][];
  inputs?: number[][];
}

export class AuditLog {
  private constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly withInputs: boolean,
    private readonly owned: WriteStream | null,
  ) {}

  /** `path` '-' is standard output; a file is appended to. */
  static open(path: string, withInputs: boolean): AuditLog {
    const file = path === '-' ? null : createWriteStream(path, { flags: 'a' });
    return new AuditLog(file ?? process.stdout, withInputs, file);
  }

  record(model: { name: string; version: string; model: Model }, requestId: string, x: Float32Array, y: Float32Array, rows: number): void {
    const m = model.model;
    const entry: AuditEntry = {
      time: new Date().toISOString(),
      request_id: requestId,
      model: model.name,
      version: model.version,
      fingerprint: m.fingerprint?.model ?? null,
      file_fingerprint: m.fingerprint?.file ?? null,
      backend: m.backend,
      deterministic: m.describe().deterministic === true,
      rows,
      input_sha256: inputHash(x),
      outputs: rowsOf(y, rows),
      ...(this.withInputs && { inputs: rowsOf(x, rows) }),
    };
    this.out.write(`${JSON.stringify(entry)}\n`);
  }

  async close(): Promise<void> {
    if (this.owned) await new Promise<void>((done) => this.owned!.end(done));
  }
}

/** SHA-256 (hex) of float32 values as little-endian bytes (this machine's order is checked once, in the test). */
export function inputHash(x: Float32Array): string {
  return createHash('sha256').update(new Uint8Array(x.buffer, x.byteOffset, x.byteLength)).digest('hex');
}

/** A request's id: the Open Inference Protocol's `id`, else the client's X-Request-Id header, else a new one. */
export function requestIdOf(headers: Record<string, unknown>, id?: unknown): string {
  if (typeof id === 'string' && id !== '') return id;
  const header = headers['x-request-id'];
  return typeof header === 'string' && header !== '' ? header : randomUUID();
}

function rowsOf(v: Float32Array, rows: number): number[][] {
  const width = v.length / rows;
  return Array.from({ length: rows }, (_, r) => Array.from(v.subarray(r * width, (r + 1) * width)));
}
