import { runningInNode } from '../environment.js';
import { AbortError, FetchError } from '../errors.js';
import type { ProgressCallback } from '../graph/stream.js';
import type { Arrived } from './arrived.js';

/**
 * Model files on disk, in Node: `loadModel('./model.pt')` or a `file:` URL. The file is
 * streamed (fs.createReadStream) into one buffer of its final size, with the same `download`
 * progress and the same incremental parsing as a fetched file.
 */

/** A scheme such as `https:` or `data:`; one letter alone is a Windows drive (`C:\models`), not a scheme. */
const URL_SCHEME = /^[a-z][a-z0-9+.-]+:/i;

/** Whether `source` names a file on disk: in Node only, a `file:` URL or a string that is not a URL. */
export function isLocalFile(source: string | URL): boolean {
  if (!runningInNode()) return false;
  if (source instanceof URL) return source.protocol === 'file:';
  return /^file:/i.test(source) || !URL_SCHEME.test(source);
}

type NodeFs = typeof import('node:fs');

/**
 * node:fs, imported at run time and only in Node: the comments tell bundlers (Vite, webpack) to
 * leave the import as it is, so a browser bundle neither carries a Node built-in nor warns
 * about one it never reaches.
 */
function importNodeFs(): Promise<NodeFs> {
  return import(/* @vite-ignore */ /* webpackIgnore: true */ 'node:fs');
}

/** A file's bytes as they are read, like byteChunks for a download of known length. */
export async function* fileChunks(source: string | URL, onProgress?: ProgressCallback, signal?: AbortSignal): AsyncGenerator<Arrived> {
  const path = typeof source === 'string' && /^file:/i.test(source) ? new URL(source) : source;
  const what = String(source);
  const fs = await importNodeFs();
  let total: number;
  try {
    const stat = await fs.promises.stat(path);
    if (!stat.isFile()) throw new Error('not a file');
    total = stat.size;
  } catch (e) {
    throw new FetchError(`Cannot read the model file ${what}: ${(e as Error).message}`);
  }
  const bytes = new Uint8Array(total);
  let loaded = 0;
  const report = () => onProgress?.({ stage: 'download', loadedBytes: loaded, totalBytes: total });
  report();
  try {
    for await (const chunk of fs.createReadStream(path, { signal, highWaterMark: 1 << 20 }) as AsyncIterable<Uint8Array>) {
      if (loaded + chunk.byteLength > total) throw new Error(`it grew past ${total} bytes while being read`);
      bytes.set(chunk, loaded);
      loaded += chunk.byteLength;
      yield { file: bytes, arrived: loaded };
      report();
    }
  } catch (e) {
    if (signal?.aborted) throw new AbortError();
    throw new FetchError(`Cannot read the model file ${what}: ${(e as Error).message}`);
  }
  if (loaded < total) throw new FetchError(`The model file ${what} ended after ${loaded} of ${total} bytes (it shrank while being read).`);
}
