import type { OpGraph, OpNode } from './op-graph.js';

/**
 * The contract between a loader reading a file and a backend building from it while it
 * arrives. Loaders produce a StreamedModel; backends consume it; neither imports the other.
 */

/** A stage of loading, as onProgress reports it: reading the file, parsing it, folding BatchNorm, uploading weights, compiling kernels. */
export type LoadStage = 'download' | 'parse' | 'fold' | 'upload' | 'compile';

/** One progress report of loadModel's `onProgress`. */
export interface LoadProgress {
  stage: LoadStage;
  /** Bytes of the file read so far (for `download`; 0 for the other stages). */
  loadedBytes: number;
  /** null while a download's length is unknown (no Content-Length). */
  totalBytes: number | null;
}

/** loadModel's `onProgress`: called as loading moves through its stages. */
export type ProgressCallback = (p: LoadProgress) => void;

/**
 * A model file being read. Each promise settles as early as the file allows: `shapes` once the
 * header is in (the op graph with checked shapes but no tensor data), `node(i)` once node i's
 * tensors have all arrived, `finished` once the whole file has been read and checked.
 */
export interface StreamedModel {
  shapes: Promise<OpGraph>;
  node(i: number): Promise<OpNode>;
  finished: Promise<void>;
  /** The whole model with its data, after `finished`. */
  complete(): Promise<OpGraph>;
  /** SHA-256 of the file's bytes as read (hex), after `finished`; null where there is no file or no WebCrypto. */
  fileDigest(): Promise<string | null>;
  /** Stops reading (the promises then reject with an AbortError); for a load abandoned part way. */
  cancel(): void;
  /**
   * Lets go of the file's bytes at once, for a consumer done with every tensor: a buffer the
   * stream allocated itself (read from disk, downloaded) is detached, so its memory goes at the
   * next minor GC rather than at a full one, seconds later; bytes the caller handed over are
   * theirs and stay as they are. Every tensor view of a released file is empty: call it only
   * once nothing reads them (not complete(), fileDigest() or a node's tensors any more).
   */
  release(): void;
}

/** A model already complete in memory, as a stream (a backend rebuilding from a host copy reads it the same way). */
export function streamOfGraph(graph: OpGraph): StreamedModel {
  const ready = Promise.resolve();
  return {
    shapes: Promise.resolve(graph),
    node: (i) => Promise.resolve(graph.nodes[i]!),
    finished: ready,
    complete: () => Promise.resolve(graph),
    fileDigest: () => Promise.resolve(null),
    cancel: () => undefined,
    release: () => undefined, // the graph's tensors are its owner's
  };
}
