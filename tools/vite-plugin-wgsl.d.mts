import type { Plugin } from 'vite';

/** Strips comments and blank lines from imported shaders in builds (see vite-plugin-wgsl.mjs). */
export function wgslPlugin(): Plugin;
