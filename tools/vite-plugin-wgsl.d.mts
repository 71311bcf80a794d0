import type { Plugin } from 'vite';

/** Strips comments and blank lines from `*.wgsl?raw` imports in bundle builds (vite-plugin-wgsl.mjs). */
export function wgslPlugin(): Plugin;
