import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import secureJsonParse from 'secure-json-parse';
import { requestIdOf } from '../audit.js';
import { AbandonedError } from '../batcher.js';
import type { ModelTable, ServedModel } from '../served-model.js';
import { whenClientLeaves } from '../v1/routes.js';
import { errorSchema, inferRequestSchema, liveSchema, modelMetadataSchema, modelParams, modelReadySchema, readySchema, serverMetadataSchema } from './schemas.js';
import { decodeInput, float32Bytes, OipError, type RequestInput } from './tensors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The binary tensor data extension: the body's bytes after the JSON (Inference-Header-Content-Length). */
    oipBinary: Uint8Array | null;
  }
}

interface InferRequest {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: RequestInput[];
  outputs?: { name: string; parameters?: Record<string, unknown> }[];
}

type ModelParams = { name: string; version?: string };

export interface OipOptions {
  maxRows: number;
  /** The server's version, for GET /v2. */
  version: string;
}

const TAGS = ['Open Inference Protocol (KServe v2)'];
const HEADER_LENGTH = 'inference-header-content-length';

/**
 * The Open Inference Protocol's REST API under /v2: health, server and model metadata, model
 * readiness and inference, with the binary tensor data extension. Errors answer {"error": ...}:
 * 400 for a bad request, 404 for a model (or version) not served. An encapsulated plugin: its
 * body parser and error body are its own.
 */
export function oipRoutes(table: ModelTable, options: OipOptions) {
  return async (app: FastifyInstance) => {
    app.decorateRequest('oipBinary', null);
    // Any content type (clients send application/json, application/octet-stream, or curl's
    // form type): what the body holds is told by Inference-Header-Content-Length, as the
    // extension says, not by Content-Type.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
      try {
        done(null, parseBody(request, body as Buffer));
      } catch (e) {
        done(e as Error, undefined);
      }
    });
    app.setErrorHandler((error: FastifyError, request, reply) => {
      if (error instanceof AbandonedError) return reply.code(499).send({ error: error.message });
      const status = error instanceof OipError ? error.statusCode : error.validation ? 400 : error.statusCode && error.statusCode < 500 ? error.statusCode : 500;
      if (status >= 500) request.log.error(error);
      const message = error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? `${error.message} (the server's --body-limit)` : error.message;
      return reply.code(status).send({ error: message });
    });
    app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: `No route ${request.method} ${request.url} in the Open Inference Protocol.` }));

    const errors = { 400: errorSchema, 404: errorSchema };
    app.get('/health/live', { schema: { summary: 'Server live', tags: TAGS, response: { 200: liveSchema } } }, async () => ({ live: true }));
    app.get('/health/ready', { schema: { summary: 'Server ready: every model is', tags: TAGS, response: { 200: readySchema, 400: readySchema } } }, async (_request, reply) => {
      const ready = table.all.every((m) => m.ready);
      return reply.code(ready ? 200 : 400).send({ ready });
    });
    app.get('/', { schema: { summary: 'Server metadata', tags: TAGS, response: { 200: serverMetadataSchema } } }, async () => ({
      name: 'resgpu-serve',
      version: options.version,
      extensions: ['binary_tensor_data'],
    }));

    for (const base of ['/models/:name', '/models/:name/versions/:version']) {
      const versioned = base.includes(':version');
      const schema = (summary: string, response: object) => ({ summary: `${summary}${versioned ? ' (a version)' : ''}`, tags: TAGS, params: modelParams, response: { ...response, ...errors } });
      app.get(base, { schema: schema('Model metadata', { 200: modelMetadataSchema }) }, async (request) => {
        const served = find(table, request.params as ModelParams);
        return {
          name: served.name,
          versions: table.versionsOf(served.name),
          platform: `resgpu_${served.model.backend}`,
          inputs: [{ name: served.inputName, datatype: 'FP32', shape: [-1, ...served.rowShape] }],
          outputs: [{ name: served.outputName, datatype: 'FP32', shape: [-1, served.model.outputSize] }],
          // The protocol's extension point: what exactly runs, and whether it passed its self-test.
          parameters: {
            fingerprint: served.model.fingerprint?.model ?? 'none',
            file_fingerprint: served.model.fingerprint?.file ?? 'none',
            self_test: served.model.selfTest ? `passed, ${served.model.selfTest.rows} rows` : 'none',
            // What a client must do to an image before sending its tensor, where the file records it.
            ...(served.model.preprocess && {
              preprocess_mean: served.model.preprocess.mean.join(','),
              preprocess_std: served.model.preprocess.std.join(','),
            }),
          },
        };
      });
      app.get(`${base}/ready`, { schema: schema('Model ready', { 200: modelReadySchema }) }, async (request) => {
        const served = find(table, request.params as ModelParams);
        // The protocol's false is a 4xx: a model stops being ready when the server shuts down.
        if (!served.ready) throw new OipError(`Model '${served.name}' is not ready: the server is shutting down.`, 400);
        return { name: served.name, ready: true };
      });
      app.post(`${base}/infer`, {
        schema: {
          ...schema('Inference', {}),
          description: 'JSON, or JSON followed by binary tensor data (header Inference-Header-Content-Length: the JSON\'s length).',
          body: inferRequestSchema,
        },
        // An unknown model is a 404 whatever the body says: checked before the body's schema.
        preValidation: async (request) => void find(table, request.params as ModelParams),
      }, async (request, reply) => {
        const served = find(table, request.params as ModelParams);
        const body = request.body as InferRequest;
        const x = inputOf(body, served, request, options.maxRows);
        const binaryOutput = wantsBinary(body, served);
        const y = await served.predict(x.x, x.rows, whenClientLeaves(reply), requestIdOf(request.headers, body.id));
        served.stamp(reply);
        const output = { name: served.outputName, datatype: 'FP32', shape: [x.rows, served.model.outputSize] };
        const head = { model_name: served.name, model_version: served.version, ...(body.id !== undefined && { id: body.id }) };
        if (!binaryOutput) return reply.type('application/json').send({ ...head, outputs: [{ ...output, data: Array.from(y) }] });
        const json = Buffer.from(JSON.stringify({ ...head, outputs: [{ ...output, parameters: { binary_data_size: y.length * 4 } }] }));
        return reply.type('application/octet-stream').header(HEADER_LENGTH, json.byteLength).send(Buffer.concat([json, float32Bytes(y)]));
      });
    }
  };
}

/** The JSON part of a body (all of it, or its first Inference-Header-Content-Length bytes); the rest is binary data. */
function parseBody(request: FastifyRequest, body: Buffer): unknown {
  const header = request.headers[HEADER_LENGTH];
  let jsonLength = body.byteLength;
  if (header !== undefined) {
    if (typeof header !== 'string' || !/^\d+$/.test(header) || Number(header) > body.byteLength) {
      throw new OipError(`Inference-Header-Content-Length is ${JSON.stringify(header)}: it must be the JSON's length in bytes, at most the body's ${body.byteLength}.`);
    }
    jsonLength = Number(header);
  }
  request.oipBinary = body.subarray(jsonLength);
  try {
    return secureJsonParse(body.subarray(0, jsonLength).toString('utf8'), { protoAction: 'error', constructorAction: 'error' });
  } catch (e) {
    throw new OipError(`The inference request is not valid JSON: ${(e as Error).message}${header === undefined ? ' (binary data after the JSON needs the Inference-Header-Content-Length header)' : ''}.`);
  }
}

function find(table: ModelTable, { name, version }: ModelParams): ServedModel {
  const served = table.find(name, version);
  if (served) return served;
  const versions = table.versionsOf(name);
  if (versions.length) throw new OipError(`Model '${name}' has no version '${version}'; it has ${versions.join(', ')}.`, 404);
  throw new OipError(`Unknown model '${name}'; this server serves ${table.names().map((n) => `'${n}'`).join(', ')}.`, 404);
}

/** The request's one input, decoded, with every byte of binary data accounted for. */
function inputOf(body: InferRequest, served: ServedModel, request: FastifyRequest, maxRows: number): { x: Float32Array; rows: number } {
  if (body.inputs.length !== 1 || body.inputs[0]!.name !== served.inputName) {
    const names = body.inputs.map((i) => `'${i.name}'`).join(', ');
    throw new OipError(`Model '${served.name}' takes one input, '${served.inputName}'; the request has ${names}.`);
  }
  const binary = request.oipBinary ?? new Uint8Array(0);
  const spec = { model: served.name, name: served.inputName, rowShape: served.rowShape, maxRows };
  const { x, rows, bytesRead } = decodeInput(body.inputs[0]!, spec, binary, 0);
  if (bytesRead !== binary.byteLength) {
    throw new OipError(`The body has ${binary.byteLength - bytesRead} bytes after the JSON that no input's binary_data_size accounts for.`);
  }
  return { x, rows };
}

/** Whether the output goes back as binary data: its own binary_data, else the request's binary_data_output. */
function wantsBinary(body: InferRequest, served: ServedModel): boolean {
  const all = body.parameters?.binary_data_output === true;
  for (const o of body.outputs ?? []) {
    if (o.name !== served.outputName) throw new OipError(`Model '${served.name}' has one output, '${served.outputName}'; the request asks for '${o.name}'.`);
  }
  const own = body.outputs?.find((o) => o.parameters?.binary_data !== undefined)?.parameters?.binary_data;
  return own === undefined ? all : own === true;
}
