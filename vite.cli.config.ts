import { resolve } from 'node:path';
import { defineConfig } from 'vite';

/**
 * The CLI (src/cli/index.ts → dist/cli.js, also the 'resgpu/cli' export that resgpu-serve
 * reuses), built apart from the browser bundle. The engine is not bundled a second time:
 * src/index.ts and src/node.ts are imported from the library's bundles, ./resgpu.js and
 * ./node.js. csv-parse is bundled (the library installs no runtime dependency); resgpu-serve
 * stays an import, made only when `resgpu serve` runs.
 */
const ENGINE = resolve(import.meta.dirname, 'src/index.ts');
const NODE_ENTRY = resolve(import.meta.dirname, 'src/node.ts');

export default defineConfig({
  ssr: { noExternal: ['csv-parse'] },
  build: {
    ssr: 'src/cli/index.ts',
    target: 'node20',
    outDir: 'dist',
    emptyOutDir: false, // dist/resgpu.js is built first, by vite.config.ts
    sourcemap: true,
    rollupOptions: {
      external: (id) => id === ENGINE || id === NODE_ENTRY || id === 'resgpu-serve' || id.startsWith('node:'),
      output: { format: 'es', entryFileNames: 'cli.js', paths: { [ENGINE]: './resgpu.js', [NODE_ENTRY]: './node.js' } },
    },
  },
});
