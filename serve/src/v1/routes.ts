import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { answerOf } from 'resgpu/cli';
import secureJsonParse from 'secure-json-parse';
import { AbandonedError } from '../batcher.js';
import type { ModelTable, ServedModel } from '../served-model.js';
import { InvalidJsonError, toProblem } from './problems.js';
import { rowsOf, type PredictBody } from './rows.js';
import { acceptsInstances, errorSchema, healthSchema, predictBodySchema, predictResponseSchema } from './schemas.js';

export interface V1Limits {
  maxRows: number;
  bodyLimit: number;
}

/**
 * resgpu's own JSON API, a contract kept as it was: POST /v1/predict runs the first model given
 * (the only one, before several were served), POST /v1/models/{name}/predict any served model
 * (its default version), GET /healthz. An encapsulated plugin, so its JSON-only body parser and
 * its error body ({statusCode, code, message, row, field, expected}) stay its own.
 */
export function v1Routes(table: ModelTable, limits: V1Limits) {
  return async (app: FastifyInstance) => {
    // JSON only (anything else is a 415), and not Fastify's own parser: it drops the parse error's detail.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
      try {
        done(null, body === '' ? undefined : secureJsonParse(body as string, { protoAction: 'error', constructorAction: 'error' }));
      } catch (e) {
        done(new InvalidJsonError((e as Error).message), undefined);
      }
    });
    app.setErrorHandler((error: FastifyError, request, reply) => {
      if (error instanceof AbandonedError) return reply.code(499).send({ statusCode: 499, code: 'client_gone', message: error.message });
      const served = (request.routeOptions.config as { served?: ServedModel }).served ?? table.all[0]!;
      const problem = toProblem(error, request.body, served.shape, limits.maxRows, limits.bodyLimit);
      if (problem.statusCode >= 500) request.log.error(error);
      return reply.code(problem.statusCode).send(problem);
    });

    const [first] = table.all;
    predictRoute(app, '/v1/predict', first!, limits, 'predict');
    for (const served of table.defaults()) predictRoute(app, `/v1/models/${served.name}/predict`, served, limits, `predict_${served.name}`);

    app.get('/healthz', { schema: { summary: 'Ready: every model is loaded', response: { 200: healthSchema } } }, async () => ({
      status: 'ok' as const,
      model: { name: first!.file, backend: first!.model.backend, inputSize: first!.model.inputSize, outputSize: first!.model.outputSize },
      models: table.all.map((m) => m.summary()),
    }));
  };
}

function predictRoute(app: FastifyInstance, url: string, served: ServedModel, limits: V1Limits, operationId: string): void {
  const shape = served.shape;
  app.post(url, {
    config: { served },
    schema: {
      summary: `Run ${served.name} on rows`,
      description: acceptsInstances(shape)
        ? 'Send rows as arrays of numbers ("inputs") or as objects keyed by feature name ("instances").'
        : 'Send rows as arrays of numbers ("inputs").',
      operationId,
      tags: ['resgpu JSON API (v1)'],
      body: predictBodySchema(shape, limits.maxRows),
      response: { 200: predictResponseSchema(shape), 400: errorSchema, 413: errorSchema, 415: errorSchema, 500: errorSchema },
    },
  }, async (request, reply) => {
    const { x, rows } = rowsOf(request.body as PredictBody, shape);
    return answerOf(await served.predict(x, rows, whenClientLeaves(reply)), rows, shape);
  });
}

/** Aborts when the client closes its connection before the answer is written. */
export function whenClientLeaves(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}
