/**
 * resgpu-serve: resgpu's models over HTTP. `serveCommand` is the command (bin/resgpu-serve.mjs,
 * and `resgpu serve` when this package is installed); `buildApp` the Fastify app, for
 * embedding the server in a program of your own.
 */
export { serveCommand, SERVE_HELP } from './cli.js';
export { buildApp, SERVE_DEFAULTS, type ServeOptions } from './app.js';
export type { ModelSource } from './served-model.js';
