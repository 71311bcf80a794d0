import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import secureJsonParse from 'secure-json-parse';
import type { Model } from '../index.js';
import { DynamicBatcher } from './batcher.js';
import { createMetrics } from './metrics.js';
import { InvalidJsonError, toProblem } from './problems.js';
import { answerOf, rowsOf, type PredictBody } from './rows.js';
import { acceptsInstances, errorSchema, modelShape, healthSchema, predictBodySchema, predictResponseSchema } from './schemas.js';

export interface ServeOptions {
  /** Shown in /healthz and the API docs (e.g. the model's file name). */
  modelName: string;
  /** Coalesce concurrent requests into one run (default true). */
  batching?: boolean;
  /** Rows per coalesced run (default 256). */
  maxBatchRows?: number;
  /** Longest wait for a batch to fill, in microseconds (default 0: what arrives while a run is busy). */
  maxWaitUs?: number;
  /** Rows allowed in one request (default 1024). */
  maxRows?: number;
  /** Bytes allowed in one request body (default 1 MiB). */
  bodyLimit?: number;
  /** Labels on every metric, e.g. { worker: '2' } under --workers. */
  metricLabels?: Record<string, string>;
}

// maxWaitUs 0: a batch gathers while the previous run is on the device, which measured best on
// SwiftShader at 1, 16 and 200 clients (bench/http.mjs); a wait only delays a lone request.
export const SERVE_DEFAULTS = { maxBatchRows: 256, maxWaitUs: 0, maxRows: 1024, bodyLimit: 1 << 20 } as const;

/** The HTTP API around a loaded model, ready to listen(). Closing it does not dispose the model. */
export async function buildApp(model: Model, options: ServeOptions): Promise<FastifyInstance> {
  const { maxBatchRows, maxWaitUs, maxRows, bodyLimit } = { ...SERVE_DEFAULTS, ...definedOnly(options) };
  const shape = modelShape(model);
  const app = Fastify({
    bodyLimit,
    ajv: {
      // Refuse, never repair: no "14.1" → 14.1 coercion, no silently dropped fields. All errors, so
      // toProblem can name the most useful one (an unknown field before the missing one it replaces).
      customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true, keywords: ['example'] },
    },
  });
  // JSON only (anything else is a 415), and not Fastify's own parser: it drops the parse error's detail.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, body === '' ? undefined : secureJsonParse(body as string, { protoAction: 'error', constructorAction: 'error' }));
    } catch (e) {
      done(new InvalidJsonError((e as Error).message), undefined);
    }
  });
  const metrics = createMetrics(options.metricLabels);
  const batcher = new DynamicBatcher((x) => model.run(x), model.inputSize, model.outputSize, {
    maxBatchRows,
    maxWaitUs,
    padToPowerOfTwo: model.backend === 'webgpu',
  }, {
    onBatch: (rows, requests) => {
      metrics.batchRows.observe(rows);
      metrics.batchRequests.observe(requests);
    },
    onQueueDepth: (n) => metrics.queueDepth.set(n),
  });
  const predict = options.batching === false
    ? async (x: Float32Array, rows: number) => {
        metrics.batchRows.observe(rows);
        metrics.batchRequests.observe(1);
        return model.run(x);
      }
    : (x: Float32Array, rows: number) => batcher.predict(x, rows);

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: `resgpu: ${options.modelName}`,
        version: '1',
        description: describeModel(model, options.modelName, maxRows),
      },
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  // On close, answers still due end their connection: a kept-alive connection left idle would
  // hold the drain open until the keep-alive timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    metrics.latency.observe({ route }, reply.elapsedTime / 1000);
  });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const problem = toProblem(error, request.body, shape, maxRows, bodyLimit);
    if (problem.statusCode >= 500) request.log.error(error);
    return reply.code(problem.statusCode).send(problem);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ statusCode: 404, code: 'not_found', message: `No route ${request.method} ${request.url}; see /docs.` }),
  );

  const errors = { 400: errorSchema, 413: errorSchema, 415: errorSchema, 500: errorSchema };
  app.post('/v1/predict', {
    schema: {
      summary: 'Run the model on rows',
      description: acceptsInstances(shape)
        ? 'Send rows as arrays of numbers ("inputs") or as objects keyed by feature name ("instances").'
        : 'Send rows as arrays of numbers ("inputs").',
      operationId: 'predict',
      body: predictBodySchema(shape, maxRows),
      response: { 200: predictResponseSchema(shape), ...errors },
    },
  }, async (request) => {
    const { x, rows } = rowsOf(request.body as PredictBody, shape);
    return answerOf(await predict(x, rows), rows, shape);
  });
  app.get('/healthz', { schema: { summary: 'Ready: the model is loaded', response: { 200: healthSchema } } }, async () => ({
    status: 'ok' as const,
    model: { name: options.modelName, backend: model.backend, inputSize: model.inputSize, outputSize: model.outputSize },
  }));
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', produces: ['text/plain'] } }, async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}

function describeModel(model: Model, name: string, maxRows: number): string {
  const lines = [`Model \`${name}\`: ${model.inputSize} inputs → ${model.outputSize} outputs, on resgpu's ${model.backend} backend.`];
  if (model.features) lines.push(`Features (in column order): ${model.features.join(', ')}.`);
  if (modelShape(model).labels) lines.push(`Labels (per output): ${model.labels!.join(', ')}.`);
  if (model.inputNames?.length) lines.push(`The file names its input ${model.inputNames.join(', ')} and its output ${model.outputNames?.join(', ') || '(unnamed)'}.`);
  lines.push(`At most ${maxRows} rows per request. Errors answer a JSON body naming the row, field and what was expected.`);
  return lines.join('\n\n');
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
