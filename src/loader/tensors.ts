import type { CheckedManifest, GraphManifest } from './manifest.js';
import type { CheckedManifestV2, GraphManifestV2 } from './manifest-v2.js';
import type { Arrived } from './arrived.js';

/** A tensor as a file stores it: raw bytes plus dtype and shape, not yet decoded. */
export interface RawTensor {
  name: string;
  dtype: string;
  shape: number[];
  /** A view into the file's bytes (no copy). */
  bytes: Uint8Array;
}

/** Tensors by state_dict key, in file order. */
export type TensorMap = Map<string, RawTensor>;

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Weight files parsed while they download: first every tensor's name, dtype and shape (and
 * the embedded graph), as soon as the file's header or data.pkl is in; then each tensor as
 * soon as its bytes are. The loader builds, folds and uploads layers from these events.
 */
export interface TensorEvents {
  /**
   * Shapes and dtypes of every tensor; their `bytes` are not to be read yet. A format whose files
   * may carry no graph (a bare .pt state_dict) hands over `infer`, which infers one from the
   * tensors' names and shapes: it lives in the format's chunk, loaded only for such files.
   */
  header(tensors: TensorMap, graph: string | GraphManifest | GraphManifestV2 | undefined, format: 'safetensors' | 'pytorch' | 'onnx', infer?: GraphInference): void;
  /** A tensor whose bytes have all arrived. */
  tensor(t: RawTensor): void;
}

/** infer-graph.ts's inferGraph, as the .pt parser hands it over. */
export type GraphInference = (tensors: TensorMap, inputShape?: readonly number[]) => CheckedManifest | CheckedManifestV2;

export interface IncrementalParser {
  advance(a: Arrived): void;
  /**
   * The file is complete: everything not yet reported must be now, or the file is malformed.
   * May be async (a parser whose code is imported on first use).
   */
  finish(a: Arrived): void | Promise<void>;
}
