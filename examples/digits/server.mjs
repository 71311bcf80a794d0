// Serves the digits page with Vite: `npm run example:digits`, then open the printed URL.
// Trains the model first when it is missing (model.mjs). The page imports resgpu from the
// repository's sources (aliased below), as an app would import the package.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPageServer } from '../../tools/page-server.mjs';
import { watPlugin } from '../../tools/vite-plugin-wat.mjs';
import { wgslPlugin } from '../../tools/vite-plugin-wgsl.mjs';
import { makeDigitsModel } from './model.mjs';

const HERE = import.meta.dirname;
const ROOT = resolve(HERE, '../..');

export async function startDigitsServer({ port = 0, host = '127.0.0.1' } = {}) {
  return startPageServer({
    root: HERE,
    port,
    host,
    resolve: { alias: { resgpu: resolve(ROOT, 'src/index.ts') } },
    optimizeDeps: { entries: ['index.html'] },
    plugins: [watPlugin(), wgslPlugin()],
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  makeDigitsModel();
  const server = await startDigitsServer({ port: Number(process.env.PORT ?? 5175), host: process.env.HOST ?? '127.0.0.1' });
  console.log(`resgpu digits: ${server.resolvedUrls.local[0]}  (draw a digit; ?backend=webgpu forces WebGPU; Ctrl-C stops the server)`);
}
