import type { Plugin } from 'vite';

export interface WatVariants {
  relaxed: { shared: string; unshared: string };
  plain: { shared: string; unshared: string };
}
/** The text of the module at the path `file` with its (include "…") lines spliced in, and every file read. */
export function readModule(file: string): Promise<{ text: string; files: string[] }>;
export function withoutRelaxedSimd(wat: string): string;
export function withUnsharedMemory(wat: string): string;
export function assembleVariants(file: string, wat: string): Promise<WatVariants>;
export function watPlugin(): Plugin;
