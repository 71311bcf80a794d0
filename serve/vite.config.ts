import { isAbsolute, resolve } from 'node:path';
import { defineConfig } from 'vite';

/**
 * resgpu-serve's build: src/index.ts → dist/index.js for Node, every package it imports left an
 * import (resgpu, Fastify and the rest are its dependencies, installed beside it).
 */
export default defineConfig({
  root: import.meta.dirname,
  build: {
    ssr: resolve(import.meta.dirname, 'src/index.ts'),
    target: 'node20',
    outDir: resolve(import.meta.dirname, 'dist'),
    emptyOutDir: true,
    sourcemap: true,
    rollupOptions: {
      external: (id) => !id.startsWith('.') && !isAbsolute(id),
      output: { format: 'es', entryFileNames: 'index.js' },
    },
  },
});
