import { resolve } from 'node:path';
import { defineConfig } from 'vite';

/**
 * The CLI and HTTP server (src/cli/entry.ts → dist/cli.js), built apart from the browser
 * bundle: Node built-ins and npm dependencies stay imports (SSR build), and the engine is not
 * bundled a second time: src/index.ts and src/node.ts are imported from the library's bundles,
 * ./resgpu.js and ./node.js.
 */
const ENGINE = resolve(import.meta.dirname, 'src/index.ts');
const NODE_ENTRY = resolve(import.meta.dirname, 'src/node.ts');

export default defineConfig({
  build: {
    ssr: 'src/cli/entry.ts',
    target: 'node20',
    outDir: 'dist',
    emptyOutDir: false, // dist/resgpu.js is built first, by vite.config.ts
    sourcemap: true,
    rollupOptions: {
      external: (id) => id === ENGINE || id === NODE_ENTRY,
      output: { format: 'es', entryFileNames: 'cli.js', paths: { [ENGINE]: './resgpu.js', [NODE_ENTRY]: './node.js' } },
    },
  },
});
