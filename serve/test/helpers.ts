import type { Model } from 'resgpu';
import { buildApp, type ModelSource, type ServeOptions } from '../src/index.js';

export { BREAST_CANCER, example, loadBoth, postJson, referenceRows, ROOT, runCli, spawnServer } from '../../test/helpers/serve.js';
export { expectClose } from '../../test/helpers/compare.js';

/** Real HTTP: the app listening on 127.0.0.1, on a free port; a lone model is named 'test'. */
export async function startServer(models: Model | ModelSource[], options: ServeOptions = {}) {
  const sources = Array.isArray(models) ? models : [{ name: 'test', model: models }];
  const app = await buildApp(sources, options);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url, close: () => app.close() };
}

/** Until `condition` holds (polling every 20 ms), or fails after `timeoutMs`. */
export async function until(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error('timed out waiting for the server');
    await new Promise((r) => setTimeout(r, 20));
  }
}
