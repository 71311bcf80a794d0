// The Vite dev server of resgpu's own pages (the benchmark page, the digits example). Cross-origin
// isolated, so that the WebAssembly backend may use threads (SharedArrayBuffer); no hot reload and
// no file watching, so that no page is reloaded under a measurement or a test; the whole repository
// readable, since the pages import resgpu's sources. `config`: Vite's, for the rest (resolve,
// optimizeDeps, plugins).
import { resolve } from 'node:path';
import { createServer } from 'vite';

const ROOT = resolve(import.meta.dirname, '..');

export async function startPageServer({ root, port = 0, host = '127.0.0.1', ...config }) {
  const server = await createServer({
    root,
    configFile: false,
    logLevel: 'warn',
    ...config,
    server: {
      port,
      host,
      strictPort: port !== 0,
      headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
      fs: { allow: [ROOT] },
      hmr: false,
      watch: null,
    },
  });
  await server.listen();
  return server;
}
