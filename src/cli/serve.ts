import cluster from 'node:cluster';
import { basename } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp, SERVE_DEFAULTS, type ServeOptions } from '../serve/app.js';
import { intOption, parseCommand, positionals } from './args.js';
import { CliError, EXIT } from './exit-codes.js';
import { loadModelArg } from './load.js';

export const SERVE_HELP = `Usage: resgpu serve MODEL [options]

Serves MODEL (a path or an http(s) URL) as an HTTP API, and prints its URL once ready:
  POST /v1/predict   {"inputs": [[...], ...]} → {"outputs": [[...], ...]}; rows may be objects
                     keyed by feature name ({"instances": [...]}) when the model names its
                     features, and the answer names each row's label when it has labels
  GET  /healthz      200 once the model is loaded
  GET  /openapi.json the OpenAPI 3 document; GET /docs: Swagger UI
  GET  /metrics      Prometheus metrics
SIGTERM or SIGINT: stops accepting, answers every request already received, exits 0.

Options:
  --host HOST          interface to listen on (default 127.0.0.1; 0.0.0.0 for all)
  --port PORT          port (default 8080; 0 picks a free one)
  --backend NAME       passed to the engine as is (webgpu, cpu, ...); default: the engine's choice
  --max-batch N        rows per coalesced model run (default ${SERVE_DEFAULTS.maxBatchRows})
  --max-wait-us N      longest wait for a batch to fill, microseconds (default ${SERVE_DEFAULTS.maxWaitUs}:
                       no wait; requests arriving while a run is busy join the next one).
                       Node timers round it up to whole milliseconds
  --no-batching        one model run per request
  --max-rows N         rows allowed per request (default ${SERVE_DEFAULTS.maxRows})
  --body-limit BYTES   request body size limit (default ${SERVE_DEFAULTS.bodyLimit})
  --workers N          N processes sharing the port (Node cluster), each with its own copy of
                       the model; for CPU backends on a multi-core machine (default 1)
  -h, --help           this help`;

interface ServeConfig {
  model: string;
  host: string;
  port: number;
  backend: string | undefined;
  workers: number;
  options: Omit<ServeOptions, 'modelName'>;
}

export async function serveCommand(argv: string[], out: (s: string) => void): Promise<number> {
  const config = parseServeArgs(argv);
  if (!config) return out(SERVE_HELP), 0;
  if (config.workers > 1 && cluster.isPrimary) return runPrimary(config, out);
  return runServer(config, out);
}

function parseServeArgs(argv: string[]): ServeConfig | null {
  const { values, positionals: args } = parseCommand('serve', argv, {
    host: { type: 'string' },
    port: { type: 'string', short: 'p' },
    backend: { type: 'string' },
    'max-batch': { type: 'string' },
    'max-wait-us': { type: 'string' },
    'no-batching': { type: 'boolean' },
    'max-rows': { type: 'string' },
    'body-limit': { type: 'string' },
    workers: { type: 'string' },
  });
  if (values.help) return null;
  const [model] = positionals('serve', args, ['MODEL']);
  const int = (name: keyof typeof values, min: number, max?: number) => intOption('serve', name, values[name] as string | undefined, min, max);
  return {
    model: model!,
    host: values.host ?? '127.0.0.1',
    port: int('port', 0, 65535) ?? 8080,
    backend: values.backend,
    workers: int('workers', 1, 256) ?? 1,
    options: {
      batching: !values['no-batching'],
      maxBatchRows: int('max-batch', 1),
      maxWaitUs: int('max-wait-us', 0, 10_000_000),
      maxRows: int('max-rows', 1),
      bodyLimit: int('body-limit', 64),
    },
  };
}

/** One server process: load, listen, print the URL, then serve until SIGTERM/SIGINT. */
async function runServer(config: ServeConfig, out: (s: string) => void): Promise<number> {
  // Batches vary in size; padded to powers of two they need up to ~12 WebGPU plans, kept at once.
  const model = await loadModelArg(config.model, config.backend, { maxCachedPlans: 16 });
  const worker = cluster.isWorker ? cluster.worker : undefined;
  const app = await buildApp(model, {
    modelName: basename(config.model),
    ...config.options,
    ...(worker && { metricLabels: { worker: String(worker.id) } }),
  });
  let url: string;
  try {
    url = await app.listen({ host: config.host, port: config.port });
  } catch (e) {
    await model.dispose();
    throw new CliError(EXIT.failed, `Cannot listen on ${config.host}:${config.port}: ${(e as Error).message}`);
  }
  const ready = `resgpu: serving ${basename(config.model)} (${model.inputSize} → ${model.outputSize}, backend ${model.backend}) at ${url}  (docs: ${url}/docs)`;
  if (worker) process.send!({ type: 'ready', url, line: ready });
  else out(ready);
  await untilSignal();
  await shutdown(app);
  await model.dispose();
  return EXIT.ok;
}

/**
 * Fastify's close() stops accepting connections, answers 503 to requests arriving on kept-alive
 * connections meanwhile, and resolves once every request already received has its answer; the
 * batcher keeps running until then, so no queued request is dropped.
 */
async function shutdown(app: FastifyInstance): Promise<void> {
  await app.close();
}

/**
 * The first SIGTERM or SIGINT; later ones are ignored, so that a drain under way is not cut
 * short (under --workers, Ctrl-C reaches a worker both from the terminal and from the primary).
 */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.on('SIGTERM', resolve);
    process.on('SIGINT', resolve);
  });
}

/** --workers N: forks N servers sharing the port; forwards SIGTERM to them and exits once all have. */
async function runPrimary(config: ServeConfig, out: (s: string) => void): Promise<number> {
  let stopping = false;
  let announced = false;
  let startFailure: number | undefined;
  let ready = 0;
  const fork = () => {
    const worker = cluster.fork();
    worker.on('message', (m: { type?: string; url?: string; line?: string }) => {
      if (m.type === 'ready' && ++ready === config.workers && !announced) {
        announced = true;
        out(`${m.line} with ${config.workers} workers`);
      }
    });
  };
  for (let i = 0; i < config.workers; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    // A worker that dies on its own is replaced; one that cannot start (bad model, port taken) stops everything.
    if (!announced) {
      stopping = true;
      startFailure = code ?? EXIT.failed;
      for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
      return;
    }
    process.stderr.write(`resgpu: worker ${worker.id} exited (${signal ?? code}); starting another\n`);
    ready--;
    fork();
  });
  const signal = await Promise.race([untilSignal(), allExited()]);
  stopping = true;
  for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
  await allExited();
  return signal ? EXIT.ok : startFailure ?? EXIT.failed;
}

/** Resolves (with undefined) once no worker is left. */
function allExited(): Promise<undefined> {
  return new Promise((resolve) => {
    const check = () => {
      if (Object.keys(cluster.workers ?? {}).length > 0) return;
      cluster.off('exit', check);
      resolve(undefined);
    };
    cluster.on('exit', check);
    check(); // maybe they are gone already
  });
}
