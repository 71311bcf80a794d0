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
