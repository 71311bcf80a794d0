import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';
import { watPlugin } from './tools/vite-plugin-wat.mjs';
import { wgslPlugin } from './tools/vite-plugin-wgsl.mjs';

const here = (path: string) => resolve(import.meta.dirname, path);

export default defineConfig({
  // WebAssembly text (src/runtime/wasm/*.wat) is assembled on import, for the bundle and the tests alike.
  plugins: [watPlugin(), wgslPlugin()],
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    // resgpu.js for every platform; node.js (resgpu/node) for Node only, kept out of the former.
    lib: { entry: { resgpu: 'src/index.ts', node: 'src/node.ts' }, formats: ['es'], fileName: (_, name) => `${name}.js` },
    rollupOptions: { external: ['webgpu', /^node:/] },
  },
  test: {
    // The server package's tests (serve/test) run with the library's: `npm test` runs every test.
    include: ['test/**/*.test.ts', 'serve/test/**/*.test.ts'],
    // In-process, the server's imports of the library resolve to its sources, so that both sides
    // share one copy of the engine (and of its error classes); child processes use the builds.
    alias: [
      { find: /^resgpu$/, replacement: here('src/index.ts') },
      { find: /^resgpu\/node$/, replacement: here('src/node.ts') },
      { find: /^resgpu\/cli$/, replacement: here('src/cli/index.ts') },
      { find: /^resgpu-serve$/, replacement: here('serve/src/index.ts') },
    ],
    // Dawn is a native addon: separate processes, not worker threads.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
