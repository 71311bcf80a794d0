/**
 * Assigns activation values to a few reusable buffers (ping-pong, never one per layer).
 * Step i reads `reads[i]` and writes value i + 1; value 0 is the model input, and the last
 * value is the model output. A step's output never shares a buffer with anything it reads
 * (a dispatch must not write what it reads), and a value's buffer is reused only after the
 * last step that reads it.
 */
export interface BufferAssignment {
  /** bufferOf[v] = index of the buffer holding value v. */
  bufferOf: number[];
  bufferCount: number;
}

export function assignBuffers(reads: readonly (readonly number[])[]): BufferAssignment {
  const valueCount = reads.length + 1;
  const lastUse = new Array<number>(valueCount).fill(-1);
  reads.forEach((inputs, step) => inputs.forEach((v) => (lastUse[v] = step)));
  lastUse[valueCount - 1] = Infinity; // the output is read back after the last step

  const bufferOf = [0];
  const free: number[] = [];
  let bufferCount = 1;
  for (let step = 0; step < reads.length; step++) {
    bufferOf.push(free.length > 0 ? free.pop()! : bufferCount++);
    // Release what this step read for the last time; only now, so its output took another buffer.
    for (const v of new Set(reads[step])) if (lastUse[v] === step) free.push(bufferOf[v]!);
  }
  return { bufferOf, bufferCount };
}
