/**
 * Lets go of a typed array's memory sooner than dropping the last reference to it would. An
 * ArrayBuffer's memory is freed when V8 collects the object that owns it; one that has lived
 * through a few collections is in the old generation, collected only by a full GC, which may
 * come seconds later: a ResNet-50's 12 MB packing scratch was still counted through the
 * pipelines' compile and the first inference. Transferring the buffer (structuredClone) detaches
 * it and hands its memory to a new, young object that the next minor GC frees.
 * Only for a buffer nothing else views: every view of it becomes empty.
 */
export function release(array: { buffer: ArrayBufferLike }): void {
  const { buffer } = array;
  if (typeof structuredClone !== 'function' || !(buffer instanceof ArrayBuffer) || buffer.byteLength === 0) return;
  structuredClone(buffer, { transfer: [buffer] });
}
