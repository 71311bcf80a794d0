import fastifyMultipart from '@fastify/multipart';
import type { SwaggerTransform } from '@fastify/swagger';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { answerOf } from 'resgpu/cli';
import secureJsonParse from 'secure-json-parse';
import { requestIdOf } from '../audit.js';
import { AbandonedError } from '../batcher.js';
import type { ModelTable, ServedModel } from '../served-model.js';
import { IMAGE_DEFAULTS, ImageError, describePreprocessing, imageOptionsFor, imageShapeOf, imageToRow, type ImageOptions } from './images.js';
import { InvalidJsonError, toProblem } from './problems.js';
import { rowsOf, type PredictBody } from './rows.js';
import { acceptsInstances, errorSchema, healthSchema, predictBodySchema, predictResponseSchema } from './schemas.js';

export interface V1Limits {
  maxRows: number;
  bodyLimit: number;
  /** Preprocessing and limits for models with a [1|3, H, W] input. */
  images?: ImageOptions;
}

/** Multipart errors from @fastify/multipart, said in the API's words. */
const MULTIPART_PROBLEMS: Record<string, (limits: V1Limits) => string> = {
  FST_FILES_LIMIT: (l) => `Too many files: at most ${maxImages(l)} images per request.`,
  FST_REQ_FILE_TOO_LARGE: (l) => `A file is over the limit of ${l.images?.maxFileBytes ?? IMAGE_DEFAULTS.maxFileBytes} bytes.`,
  FST_PARTS_LIMIT: (l) => `Too many parts: send at most ${maxImages(l)} files, in the field "image".`,
  FST_FIELDS_LIMIT: () => 'Too many form fields: send files in the field "image" only.',
  FST_INVALID_MULTIPART_CONTENT_TYPE: () => 'Not a multipart request.',
};
const maxImages = (l: V1Limits) => Math.min(l.images?.maxImages ?? IMAGE_DEFAULTS.maxImages, l.maxRows);

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
    // Only where a model takes images (a server of tabular models keeps answering multipart with 415).
    // The parser bounds the body: a file past maxFileBytes, or files past maxImages, stop the read.
    if (table.all.some((m) => imageShapeOf(m.rowShape))) {
      await app.register(fastifyMultipart, {
        limits: { fileSize: limits.images?.maxFileBytes ?? IMAGE_DEFAULTS.maxFileBytes, files: maxImages(limits), fields: 4, parts: maxImages(limits) + 4 },
      });
    }
    app.setErrorHandler((error: FastifyError, request, reply) => {
      if (error instanceof ImageError) return reply.code(error.statusCode).send({ statusCode: error.statusCode, code: error.code, message: error.message });
      const multipart = MULTIPART_PROBLEMS[error.code];
      if (multipart) {
        const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
        return reply.code(status).send({ statusCode: status, code: error.code === 'FST_REQ_FILE_TOO_LARGE' ? 'file_too_large' : 'bad_multipart', message: multipart(limits) });
      }
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
  const image = imageShapeOf(served.rowShape);
  const imageOptions = imageOptionsFor(served.model, limits.images);
  const jsonBody = predictBodySchema(shape, limits.maxRows, image ? maxImages(limits) : 0);
  const rowsText = acceptsInstances(shape)
    ? 'Send rows as arrays of numbers ("inputs") or as objects keyed by feature name ("instances").'
    : 'Send rows as arrays of numbers ("inputs").';
  const imageText = image
    ? ` Or images: a multipart/form-data upload (field "image", one file per row) or JSON {"images": ["<base64 PNG or JPEG>", ...]}, at most ${maxImages(limits)} per request. ${describePreprocessing(...image, imageOptions)}`
    : '';
  app.post(url, {
    // The multipart body is documented here, for the Swagger UI's upload field; Ajv never sees it.
    config: { served, ...(image && { swaggerTransform: documentUpload }) },
    schema: {
      summary: `Run ${served.name} on ${image ? 'images or rows' : 'rows'}`,
      description: rowsText + imageText,
      operationId,
      tags: ['resgpu JSON API (v1)'],
      // Per media type, so a multipart upload (no JSON body to check) passes to the handler.
      body: image ? { content: { 'application/json': { schema: jsonBody } } } : jsonBody,
      response: { 200: predictResponseSchema(shape), 400: errorSchema, 413: errorSchema, 415: errorSchema, 500: errorSchema },
    },
  }, async (request, reply) => {
    const { x, rows } = image ? await imageRows(request, image, imageOptions) ?? rowsOf(request.body as PredictBody, shape) : rowsOf(request.body as PredictBody, shape);
    const y = await served.predict(x, rows, whenClientLeaves(reply), requestIdOf(request.headers));
    served.stamp(reply);
    return answerOf(y, rows, shape);
  });
}

const uploadSchema = {
  type: 'object',
  required: ['image'],
  properties: { image: { type: 'array', description: 'PNG or JPEG files, one row each.', items: { type: 'string', format: 'binary' } } },
};

const documentUpload: SwaggerTransform = ({ schema, url }) => {
  const body = schema.body as { content: Record<string, unknown> };
  return { url, schema: { ...schema, body: { content: { ...body.content, 'multipart/form-data': { schema: uploadSchema } } } } };
};

/** The rows of an image request (multipart upload or JSON "images"), or null for plain rows. */
async function imageRows(request: FastifyRequest, shape: [number, number, number], options: ImageOptions): Promise<{ x: Float32Array; rows: number } | null> {
  const n = shape[0] * shape[1] * shape[2];
  const decoded: Float32Array[] = [];
  if (request.isMultipart()) {
    for await (const part of request.parts()) {
      if (part.type !== 'file') continue;
      if (part.fieldname !== 'image') throw new ImageError(400, 'unknown_field', `Unknown file field "${part.fieldname}": send images in the field "image".`);
      // Decoded one at a time, so at most one file's pixels are held beside the rows.
      decoded.push(imageToRow(await part.toBuffer(), `image ${decoded.length} (${part.filename || 'unnamed'})`, shape, options));
    }
    if (decoded.length === 0) throw new ImageError(400, 'no_images', 'The upload has no file in the field "image".');
  } else {
    const body = request.body as { images?: string[] } | undefined;
    if (!body?.images) return null;
    body.images.forEach((text, i) => {
      const b64 = text.replace(/^data:[^,]*;base64,/, '');
      if (!/^[A-Za-z0-9+/_\-\s]*=*\s*$/.test(b64)) throw new ImageError(400, 'invalid_base64', `images[${i}] is not base64.`);
      decoded.push(imageToRow(Buffer.from(b64, 'base64'), `images[${i}]`, shape, options));
    });
  }
  const x = new Float32Array(decoded.length * n);
  decoded.forEach((row, r) => x.set(row, r * n));
  return { x, rows: decoded.length };
}

/** Aborts when the client closes its connection before the answer is written. */
export function whenClientLeaves(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}
