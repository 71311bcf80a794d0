import type { KernelVariant, TuningCache } from '../../options.js';

export type { TuningCache };

/** In memory only. */
export function memoryTuningCache(): TuningCache {
  const entries = new Map<string, KernelVariant>();
  return { get: (k) => entries.get(k), set: (k, v) => void entries.set(k, v) };
}

const STORAGE_KEY = 'resgpu.kernels.v1';

/**
 * The default: in a browser, localStorage (so a page load after the first skips the
 * measurements), else memory only. In Node, pass `fileTuningCache()` from 'resgpu/node'.
 */
export function defaultTuningCache(): TuningCache {
  const storage = (globalThis as { localStorage?: Storage }).localStorage;
  if (!storage) return shared;
  return jsonTuningCache(
    () => storage.getItem(STORAGE_KEY),
    (text) => storage.setItem(STORAGE_KEY, text),
  );
}

/** A cache kept as one JSON object, read once and written after each new measurement. */
export function jsonTuningCache(read: () => string | null, write: (text: string) => void): TuningCache {
  let entries: Record<string, KernelVariant> | null = null;
  const load = () => {
    if (entries) return entries;
    try {
      const parsed: unknown = JSON.parse(read() ?? '{}');
      entries = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, KernelVariant>) : {};
    } catch {
      entries = {}; // unreadable or corrupt: measure again
    }
    return entries;
  };
  return {
    get: (k) => load()[k],
    set(k, v) {
      load()[k] = v;
      try {
        write(JSON.stringify(entries));
      } catch {
        // Storage full or read-only: the measurement still holds in memory.
      }
    },
  };
}

const shared = memoryTuningCache();
