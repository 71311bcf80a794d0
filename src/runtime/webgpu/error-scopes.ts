import { GpuLimitError, GpuValidationError } from '../../errors.js';

/**
 * Runs `work` inside out-of-memory and validation error scopes and pops both whatever
 * happens, so a device the caller shares keeps balanced scopes. A GPU error raised inside
 * becomes a typed error instead of an uncaptured one and a silently wrong result.
 */
export async function withErrorScopes<T>(device: GPUDevice, what: string, work: () => T | Promise<T>): Promise<T> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let outcome: { value: T } | { error: unknown };
  try {
    outcome = { value: await work() };
  } catch (error) {
    outcome = { error };
  }
  // Always popped, innermost first, even when `work` threw.
  const popped = [device.popErrorScope(), device.popErrorScope()];
  const [invalid, outOfMemory] = await Promise.all(popped.map((p) => p.catch(() => null)));
  if ('error' in outcome) throw outcome.error;
  if (outOfMemory) throw new GpuLimitError(`Out of GPU memory while ${what}: ${outOfMemory.message}`);
  if (invalid) throw new GpuValidationError(`The GPU rejected ${what}: ${invalid.message}`);
  return outcome.value;
}
