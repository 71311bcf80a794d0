import { defineConfig } from 'vitest/config';
import { watPlugin } from './tools/vite-plugin-wat.mjs';

export default defineConfig({
  // WebAssembly text (src/runtime/wasm/*.wat) is assembled on import, for the bundle and the tests alike.
  plugins: [watPlugin()],
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
    include: ['test/**/*.test.ts'],
    // Dawn is a native addon: separate processes, not worker threads.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
