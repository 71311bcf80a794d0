import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { AuditLog } from './audit.js';
import { createMetrics } from './metrics.js';
import { oipRoutes } from './oip/routes.js';
import { ModelTable, ServedModel, type ModelSource } from './served-model.js';
import { describePreprocessing, imageOptionsFor, imageShapeOf, type ImageOptions } from './v1/images.js';
import { v1Routes } from './v1/routes.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Requests received, answered, and given up by their client before the answer. */
    requestCounts: { received: number; answered: number; abandoned: number };
  }
}

export interface ServeOptions {
  /** Coalesce concurrent requests into one run (default true). */
  batching?: boolean;
  /** Rows per coalesced run (default 256). */
  maxBatchRows?: number;
  /** Longest wait for a batch to fill, in microseconds (default 0: what arrives while a run is busy). */
  maxWaitUs?: number;
  /** Rows allowed in one request (default 1024). */
  maxRows?: number;
  /**
   * Bytes allowed in one request body (default 1 MiB). A body declaring more is refused (413)
   * before it is read; one streaming past it is cut off there.
   */
  bodyLimit?: number;
  /** Labels on every metric, e.g. { worker: '2' } under --workers. */
  metricLabels?: Record<string, string>;
  /** The server's version, for GET /v2 (default: unknown). */
  version?: string;
  /** Image preprocessing (mean, std) and limits, for models with a [1|3, H, W] input. */
  images?: ImageOptions;
  /** Log every answer (audit.ts); the caller closes it. */
  audit?: AuditLog;
}

// maxWaitUs 0: a batch gathers while the previous run is on the device, which measured best on
// SwiftShader at 1, 16 and 200 clients (bench/http.mjs); a wait only delays a lone request.
export const SERVE_DEFAULTS = { maxBatchRows: 256, maxWaitUs: 0, maxRows: 1024, bodyLimit: 1 << 20 } as const;

/**
 * The HTTP API around loaded models, ready to listen(): the Open Inference Protocol under /v2,
 * resgpu's JSON API under /v1, /healthz, /metrics, /openapi.json and /docs. Each model has its
 * own batcher. Closing the app does not dispose the models.
 */
export async function buildApp(sources: readonly ModelSource[], options: ServeOptions = {}): Promise<FastifyInstance> {
  if (sources.length === 0) throw new Error('buildApp needs at least one model.');
  const { maxBatchRows, maxWaitUs, maxRows, bodyLimit } = { ...SERVE_DEFAULTS, ...definedOnly(options) };
  const metrics = createMetrics(options.metricLabels);
  const batching = { batching: options.batching !== false, maxBatchRows, maxWaitUs };
  const table = new ModelTable(sources.map((s) => new ServedModel(s, batching, metrics, options.audit ?? null)));
  const app = Fastify({
    bodyLimit,
    ajv: {
      // Refuse, never repair: no "14.1" → 14.1 coercion, no silently dropped fields. All errors, so
      // /v1 can name the most useful one (an unknown field before the missing one it replaces).
      customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true, keywords: ['example'] },
    },
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: `resgpu: ${table.all.map((m) => m.file).join(', ')}`, version: '1', description: describeModels(table, maxRows, options.images) },
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  // On close, answers still due end their connection: a kept-alive connection left idle would
  // hold the drain open until the keep-alive timeout. Readiness turns false at once.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    for (const m of table.all) m.ready = false;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  const modelLabel = (request: FastifyRequest): string => {
    const served = (request.routeOptions.config as { served?: ServedModel }).served;
    const name = (request.params as { name?: unknown } | undefined)?.name;
    return served?.name ?? (typeof name === 'string' && table.find(name) ? name : '');
  };
  // What a drain is checked against: every request received gets its answer (or its client left).
  const counts = { received: 0, answered: 0, abandoned: 0 };
  app.decorate('requestCounts', counts);
  app.addHook('onRequest', async () => void counts.received++);
  app.addHook('onRequestAbort', async (_request) => void counts.abandoned++); // Fastify wants exactly one parameter here
  app.addHook('onResponse', async (request, reply) => {
    counts.answered++;
    const route = request.routeOptions.url ?? 'unmatched';
    const model = modelLabel(request);
    metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode), model });
    metrics.latency.observe({ route, model }, reply.elapsedTime / 1000);
  });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) request.log.error(error);
    return reply.code(status).send({ statusCode: status, code: status < 500 ? 'bad_request' : 'internal_error', message: error.message });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ statusCode: 404, code: 'not_found', message: `No route ${request.method} ${request.url}; see /docs.` }),
  );

  await app.register(v1Routes(table, { maxRows, bodyLimit, ...(options.images && { images: options.images }) }));
  await app.register(oipRoutes(table, { maxRows, version: options.version ?? 'unknown' }), { prefix: '/v2' });
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', produces: ['text/plain'] } }, async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}

function describeModels(table: ModelTable, maxRows: number, images: ImageOptions = {}): string {
  const lines = table.all.map((served) => {
    const model = served.model;
    const parts = [`Model \`${served.name}\` version ${served.version} (${served.file}): ${model.inputSize} inputs → ${model.outputSize} outputs, on resgpu's ${model.backend} backend.`];
    if (model.features) parts.push(`Features (in column order): ${model.features.join(', ')}.`);
    if (served.shape.labels) parts.push(`Labels (per output): ${served.shape.labels.join(', ')}.`);
    const image = imageShapeOf(served.rowShape);
    if (image) parts.push(`Takes [${image.join(', ')}] images on /v1 (multipart field "image", or JSON "images" in base64). ${describePreprocessing(...image, imageOptionsFor(model, images))}`);
    if (model.inputNames?.length) parts.push(`The file names its input ${model.inputNames.join(', ')} and its output ${model.outputNames?.join(', ') || '(unnamed)'}.`);
    return parts.join(' ');
  });
  lines.push(`POST /v1/predict runs \`${table.all[0]!.name}\`; /v2 is the Open Inference Protocol (KServe v2) for every model, with the binary tensor data extension.`);
  lines.push(`At most ${maxRows} rows per request. /v1 errors answer a JSON body naming the row, field and what was expected; /v2 errors answer {"error": "..."}.`);
  return lines.join('\n\n');
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
