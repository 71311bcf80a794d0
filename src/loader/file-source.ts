import { runningInNode } from '../environment.js';
import { AbortError, FetchError } from '../errors.js';
import type { ProgressCallback } from '../graph/stream.js';
import type { Arrived } from './arrived.js';

/**
 * Model files on disk, in Node: `loadModel('./model.pt')` or a `file:` URL. The file is read
 * 1 MiB at a time straight into one buffer of its final size, with the same `download` progress
 * and the same incremental parsing as a fetched file. Straight in, not through
 * fs.createReadStream: its chunks are fresh ArrayBuffers, garbage once copied, and V8 collected
 * them so late that a 98 MB ResNet-50 took 2.3 times its size in JS memory while loading
 * (bench/load-memory.mjs); read in place it is the file plus the packing scratch.
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

/** Bytes read from disk at once: a download-sized step, so progress and parsing advance as for a fetch. */
const READ_BYTES = 1 << 20;

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
  let handle: Awaited<ReturnType<NodeFs['promises']['open']>> | undefined;
  try {
    handle = await fs.promises.open(path, 'r');
    while (loaded < total) {
      if (signal?.aborted) throw new AbortError();
      const { bytesRead } = await handle.read(bytes, loaded, Math.min(READ_BYTES, total - loaded), loaded);
      if (bytesRead === 0) throw new FetchError(`The model file ${what} ended after ${loaded} of ${total} bytes (it shrank while being read).`);
      loaded += bytesRead;
      yield { file: bytes, arrived: loaded };
      report();
    }
    // One byte more would mean the file grew while it was read: what was read is not one version of it.
    if ((await handle.read(new Uint8Array(1), 0, 1, total)).bytesRead > 0) throw new Error(`it grew past ${total} bytes while being read`);
  } catch (e) {
    if (signal?.aborted) throw new AbortError();
    if (e instanceof FetchError) throw e;
    throw new FetchError(`Cannot read the model file ${what}: ${(e as Error).message}`);
  } finally {
    await handle?.close();
  }
}
