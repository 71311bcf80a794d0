/**
 * The JSON Schemas of the /v1 predict API, made from the loaded model's sizes and names. The same
 * objects validate requests (Fastify compiles them with Ajv) and describe the API in
 * /openapi.json (@fastify/swagger reads them), so the documentation cannot drift from what
 * the server accepts.
 */

import type { ModelShape } from 'resgpu/cli';

/** Largest finite float32: a bigger JSON number would become Infinity in the model's input. */
export const FLOAT32_MAX = 3.4028234663852886e38;

const finiteFloat32 = { type: 'number', minimum: -FLOAT32_MAX, maximum: FLOAT32_MAX } as const;

/** Whether rows may be objects keyed by feature name: the model must name every input, once. */
export function acceptsInstances(shape: ModelShape): shape is ModelShape & { features: readonly string[] } {
  const f = shape.features;
  return !!f && f.length === shape.inputSize && new Set(f).size === f.length;
}

/** maxImages > 0: the model takes images, and "images" (base64 PNG or JPEG) is a third form. */
export function predictBodySchema(shape: ModelShape, maxRows: number, maxImages = 0) {
  const inputs = {
    type: 'array',
    minItems: 1,
    maxItems: maxRows,
    description: `Rows of ${shape.inputSize} numbers each (1 to ${maxRows} rows).`,
    items: {
      type: 'array',
      minItems: shape.inputSize,
      maxItems: shape.inputSize,
      items: finiteFloat32,
      ...(shape.features && { description: `In this order: ${shape.features.join(', ')}.` }),
    },
    example: [new Array(shape.inputSize).fill(0)],
  };
  const properties: Record<string, unknown> = { inputs };
  if (acceptsInstances(shape)) {
    properties.instances = {
      type: 'array',
      minItems: 1,
      maxItems: maxRows,
      description: `Rows as objects keyed by feature name (1 to ${maxRows} rows); every feature is required.`,
      items: {
        type: 'object',
        required: [...shape.features],
        additionalProperties: false,
        properties: Object.fromEntries(shape.features.map((name) => [name, finiteFloat32])),
      },
      example: [Object.fromEntries(shape.features.map((name) => [name, 0]))],
    };
  }
  if (maxImages > 0) {
    properties.images = {
      type: 'array',
      minItems: 1,
      maxItems: maxImages,
      description: `Images as base64 strings (PNG or JPEG; a data: URL prefix is allowed), one row each (1 to ${maxImages}).`,
      items: { type: 'string', minLength: 1 },
    };
  }
  return {
    type: 'object',
    description: maxImages > 0 ? 'Exactly one of "inputs", "images"' + (acceptsInstances(shape) ? ' or "instances".' : '.') : acceptsInstances(shape) ? 'Exactly one of "inputs" or "instances".' : 'The rows to run, as "inputs".',
    // Exactly one form per request: with additionalProperties false, one property at most and at least.
    minProperties: 1,
    maxProperties: 1,
    additionalProperties: false,
    properties,
  };
}

export function predictResponseSchema(shape: ModelShape) {
  const properties: Record<string, unknown> = {
    outputs: {
      type: 'array',
      description: `One row of ${shape.outputSize} outputs per input row, in request order.`,
      items: { type: 'array', minItems: shape.outputSize, maxItems: shape.outputSize, items: { type: 'number' } },
    },
  };
  if (shape.labels) {
    properties.labels = {
      type: 'array',
      description: 'Per row, the label of its largest output.',
      items: { type: 'string', enum: [...shape.labels] },
    };
  }
  return { type: 'object', required: ['outputs'], properties };
}

/** Every error the API answers has this body. */
export const errorSchema = {
  type: 'object',
  required: ['statusCode', 'code', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string', description: 'Stable, for programs: e.g. wrong_row_length, not_a_number, missing_field.' },
    message: { type: 'string', description: 'For people: what is wrong and what was expected.' },
    row: { type: 'integer', description: 'Index of the offending row, from 0.' },
    field: { type: 'string', description: 'The feature name (or column index) at fault.' },
    expected: { type: 'string' },
  },
} as const;

const modelSummary = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    version: { type: 'string' },
    file: { type: 'string' },
    backend: { type: 'string' },
    inputSize: { type: 'integer' },
    outputSize: { type: 'integer' },
    fingerprint: { type: ['string', 'null'], description: 'SHA-256 of the fused steps and folded weights: the exact model (model.fingerprint)' },
    fileFingerprint: { type: ['string', 'null'], description: 'SHA-256 of the model file' },
    selfTest: {
      type: ['object', 'null'],
      description: 'The golden vectors run at load: null when the file carries none',
      properties: { rows: { type: 'integer' }, worstError: { type: 'number' }, tolerance: { type: 'number' }, ms: { type: 'number' }, source: { type: 'string' } },
    },
  },
} as const;

export const healthSchema = {
  type: 'object',
  required: ['status'],
  properties: {
    status: { type: 'string', enum: ['ok'] },
    model: {
      type: 'object',
      description: 'The model /v1/predict runs (the first one given): name is its file name.',
      properties: { name: { type: 'string' }, backend: { type: 'string' }, inputSize: { type: 'integer' }, outputSize: { type: 'integer' } },
    },
    models: { type: 'array', description: 'Every model served, by the name and version the Open Inference Protocol uses.', items: modelSummary },
  },
} as const;
