import { GpuLimitError, GpuValidationError } from '../../errors.js';

/**
 * Runs `work` inside out-of-memory and validation error scopes and pops both whatever
 * happens, so a device the caller shares keeps balanced scopes. A GPU error raised inside
 * becomes a typed error instead of an uncaptured one and a silently wrong result.
 */
export async function withErrorScopes<T>(device: GPUDevice, what: string, work: () => T | Promise<T>): Promise<T> {
  const close = openErrorScopes(device, what);
  let outcome: { value: T } | { error: unknown };
  try {
    outcome = { value: await work() };
  } catch (error) {
    outcome = { error };
  }
  // Always popped, even when `work` threw.
  const scopes = close();
  if ('error' in outcome) {
    await scopes.catch(() => undefined);
    throw outcome.error;
  }
  await scopes;
  return outcome.value;
}

/**
 * Pushes the two scopes; the returned close() pops them (call it exactly once) and settles
 * when the GPU has checked the work: resolved, or rejected with the typed error. For work
 * whose result is awaited anyway (a run's read-back), closing without waiting lets the check
 * overlap that wait instead of adding a round trip before it.
 */
export function openErrorScopes(device: GPUDevice, what: string): () => Promise<void> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  return async () => {
    // Innermost first.
    const popped = [device.popErrorScope(), device.popErrorScope()];
    const [invalid, outOfMemory] = await Promise.all(popped.map((p) => p.catch(() => null)));
    if (outOfMemory) throw new GpuLimitError(`Out of GPU memory while ${what}: ${outOfMemory.message}`);
    if (invalid) throw new GpuValidationError(`The GPU rejected ${what}: ${invalid.message}`);
  };
}
