/**
 * The whole file's final buffer, of which the first `arrived` bytes are there so far: what
 * every byte source yields (source.ts for downloads and memory, file-source.ts for disk) and
 * every incremental parser reads. Its own module so that those two never import each other.
 */
export interface Arrived {
  file: Uint8Array;
  arrived: number;
}
