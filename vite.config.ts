import { defineConfig } from 'vitest/config';

export default defineConfig({
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
