import type { Plugin } from 'vite';

export interface WatVariants {
  relaxed: { shared: string; unshared: string };
  plain: { shared: string; unshared: string };
}
export function withoutRelaxedSimd(wat: string): string;
export function withUnsharedMemory(wat: string): string;
export function assembleVariants(file: string, wat: string): Promise<WatVariants>;
export function watPlugin(): Plugin;
