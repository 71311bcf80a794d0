import { AbortError, FetchError, ModelFormatError } from '../errors.js';
import type { ProgressCallback } from '../graph/stream.js';
import type { Arrived } from './arrived.js';
import { fileChunks, isLocalFile } from './file-source.js';

/**
 * Where model bytes can come from: a URL (string or URL object; in Node, a path or a `file:`
 * URL reads from disk), a Response, a Blob or File, or bytes already in memory.
 */
export type ByteSource = string | URL | Response | Blob | ArrayBuffer | ArrayBufferView;

export function isByteSource(v: unknown): v is ByteSource {
  return (
    typeof v === 'string' ||
    v instanceof URL ||
    v instanceof ArrayBuffer ||
    ArrayBuffer.isView(v) ||
    (typeof Response !== 'undefined' && v instanceof Response) ||
    (typeof Blob !== 'undefined' && v instanceof Blob)
  );
}


/**
 * The source's bytes as they arrive. The file's buffer has its final size from the start, so
 * a reader can view any range that has arrived without copying it: with a known length the
 * download is written straight into one buffer; in-memory sources arrive whole, not copied;
 * a download of unknown length arrives whole at its end. Download progress is reported per chunk.
 */
export async function* byteChunks(source: ByteSource, onProgress?: ProgressCallback, signal?: AbortSignal): AsyncGenerator<Arrived> {
  if (signal?.aborted) throw new AbortError();
  const whole = (file: Uint8Array): Arrived => ({ file, arrived: file.byteLength });
  if (source instanceof ArrayBuffer) return yield whole(new Uint8Array(source));
  if (ArrayBuffer.isView(source)) return yield whole(new Uint8Array(source.buffer, source.byteOffset, source.byteLength));
  if (typeof Blob !== 'undefined' && source instanceof Blob) return yield whole(new Uint8Array(await source.arrayBuffer()));
  let response: Response;
  let what: string;
  if (typeof Response !== 'undefined' && source instanceof Response) {
    response = source;
    what = source.url || 'the given Response';
  } else if ((typeof source === 'string' || source instanceof URL) && isLocalFile(source)) {
    return yield* fileChunks(source, onProgress, signal);
  } else if (typeof source === 'string' || source instanceof URL) {
    what = String(source);
    try {
      response = await fetch(what, { signal });
    } catch (e) {
      if (signal?.aborted) throw new AbortError();
      throw new FetchError(`Could not fetch the model from ${what}: ${(e as Error).message}`);
    }
  } else {
    throw new ModelFormatError(`Cannot read a model from ${Object.prototype.toString.call(source)}.`);
  }
  if (!response.ok) throw new FetchError(`Fetching ${what} failed: HTTP ${response.status} ${response.statusText}`.trim());
  if (response.bodyUsed) throw new FetchError(`The Response for ${what} has already been read.`);
  // A compressed transfer's Content-Length counts compressed bytes: then the length is unknown.
  const header = response.headers.get('content-encoding') ? null : response.headers.get('content-length');
  const total = header !== null && /^\d+$/.test(header) ? Number(header) : null;
  const report = (loaded: number) => onProgress?.({ stage: 'download', loadedBytes: loaded, totalBytes: total });
  report(0);
  if (!response.body) return yield whole(new Uint8Array(await response.arrayBuffer()));
  const body = response.body.getReader();
  // Cancelling the body ends a pending read() at once, however slow the server.
  const cancel = () => void body.cancel().catch(() => undefined);
  signal?.addEventListener('abort', cancel, { once: true });
  let done = false;
  try {
    const read = async () => {
      const r = await body.read().catch((e: Error) => {
        throw signal?.aborted ? new AbortError() : new FetchError(`The download of ${what} failed: ${e.message}`);
      });
      if (signal?.aborted) throw new AbortError();
      return r;
    };
    yield* readBody(read, what, total, report);
    done = true;
  } finally {
    signal?.removeEventListener('abort', cancel);
    // A failed or abandoned read lets the connection go rather than leaving the body unread.
    if (!done) cancel();
  }
}

/** The body's bytes: into one buffer of the final size when the length is known, else collected. */
async function* readBody(
  read: () => Promise<ReadableStreamReadResult<Uint8Array>>,
  what: string,
  total: number | null,
  report: (loaded: number) => void,
): AsyncGenerator<Arrived> {
  if (total === null) {
    const chunks: Uint8Array[] = [];
    let loaded = 0;
    for (let r = await read(); !r.done; r = await read()) {
      chunks.push(r.value);
      report((loaded += r.value.byteLength));
    }
    const bytes = new Uint8Array(loaded);
    chunks.reduce((at, c) => (bytes.set(c, at), at + c.byteLength), 0);
    return yield { file: bytes, arrived: loaded };
  }
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(total);
  } catch {
    throw new FetchError(`${what} has a Content-Length of ${total} bytes, more than this JavaScript engine can hold in one buffer.`);
  }
  let loaded = 0;
  for (let r = await read(); !r.done; r = await read()) {
    if (loaded + r.value.byteLength > total) throw new FetchError(`${what} sent more than its Content-Length of ${total} bytes.`);
    bytes.set(r.value, loaded);
    loaded += r.value.byteLength;
    yield { file: bytes, arrived: loaded };
    report(loaded);
  }
  if (loaded < total) throw new FetchError(`The download of ${what} ended after ${loaded} of ${total} bytes.`);
}

/** Reads a whole source. */
export async function readBytes(source: ByteSource, onProgress?: ProgressCallback, signal?: AbortSignal): Promise<Uint8Array> {
  let file: Uint8Array = new Uint8Array(0);
  for await (const a of byteChunks(source, onProgress, signal)) file = a.file;
  return file;
}
