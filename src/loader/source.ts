import { FetchError, ModelFormatError } from '../errors.js';

/** Where model bytes can come from. */
export type ByteSource = string | URL | Response | Blob | ArrayBuffer | ArrayBufferView;

export type LoadStage = 'download' | 'parse' | 'fold' | 'upload' | 'compile';

export interface LoadProgress {
  stage: LoadStage;
  loadedBytes: number;
  /** null while a download's length is unknown (no Content-Length). */
  totalBytes: number | null;
}

export type ProgressCallback = (p: LoadProgress) => void;

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

/** Reads a whole source into bytes, reporting download progress. In-memory sources are not copied. */
export async function readBytes(source: ByteSource, onProgress?: ProgressCallback): Promise<Uint8Array> {
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  if (typeof Blob !== 'undefined' && source instanceof Blob) return new Uint8Array(await source.arrayBuffer());
  if (typeof source === 'string' || source instanceof URL) {
    const url = String(source);
    let response: Response;
    try {
      response = await fetch(url);
    } catch (e) {
      throw new FetchError(`Could not fetch the model from ${url}: ${(e as Error).message}`);
    }
    return readResponse(response, url, onProgress);
  }
  if (typeof Response !== 'undefined' && source instanceof Response) {
    return readResponse(source, source.url || 'the given Response', onProgress);
  }
  throw new ModelFormatError(`Cannot read a model from ${Object.prototype.toString.call(source)}.`);
}

async function readResponse(response: Response, what: string, onProgress?: ProgressCallback): Promise<Uint8Array> {
  if (!response.ok) throw new FetchError(`Fetching ${what} failed: HTTP ${response.status} ${response.statusText}`.trim());
  if (response.bodyUsed) throw new FetchError(`The Response for ${what} has already been read.`);
  const header = response.headers.get('content-length');
  const total = header !== null && /^\d+$/.test(header) ? Number(header) : null;
  if (!response.body) return new Uint8Array(await response.arrayBuffer());

  // With a known length, chunks go straight into one buffer: the file is never held twice.
  const chunks: Uint8Array[] = [];
  let into = total !== null ? new Uint8Array(total) : null;
  let loaded = 0;
  const reader = response.body.getReader();
  onProgress?.({ stage: 'download', loadedBytes: 0, totalBytes: total });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (into && loaded + value.byteLength <= into.byteLength) into.set(value, loaded);
    else {
      // Longer than announced (or no length): fall back to collecting chunks.
      if (into) chunks.push(into.subarray(0, loaded));
      into = null;
      chunks.push(value);
    }
    loaded += value.byteLength;
    onProgress?.({ stage: 'download', loadedBytes: loaded, totalBytes: total });
  }
  if (into) return into.subarray(0, loaded);
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return bytes;
}
