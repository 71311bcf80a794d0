/**
 * JSON Schemas of the Open Inference Protocol's REST API (KServe "v2"), written from its
 * specification (kserve/kserve docs/predict-api/v2/required_api.md) and Triton's binary tensor
 * data extension: the request Ajv validates, and the answers /openapi.json documents. Extra
 * fields are allowed, as clients send some (Triton's examples carry "model_name").
 */
import { DATATYPES } from './tensors.js';

/** $parameters: names to a string, number or boolean; the binary extension's three typed. */
const parameters = {
  type: 'object',
  additionalProperties: { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
  properties: {
    binary_data_size: { type: 'integer', minimum: 0, description: 'Binary extension: this tensor\'s bytes follow the JSON.' },
    binary_data: { type: 'boolean', description: 'Binary extension: return this output as binary data.' },
    binary_data_output: { type: 'boolean', description: 'Binary extension: return every output as binary data.' },
  },
} as const;

const tensorShape = { type: 'array', items: { type: 'integer', minimum: 0 } } as const;

export const inferRequestSchema = {
  type: 'object',
  required: ['inputs'],
  properties: {
    id: { type: 'string' },
    parameters,
    inputs: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['name', 'shape', 'datatype'],
        properties: {
          name: { type: 'string' },
          shape: tensorShape,
          datatype: { type: 'string', enum: [...DATATYPES] },
          parameters,
          data: { type: 'array', description: 'Row-major, flat or nested as the shape.' },
        },
      },
    },
    outputs: {
      type: 'array',
      items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, parameters } },
    },
  },
} as const;

const metadataTensor = {
  type: 'object',
  required: ['name', 'datatype', 'shape'],
  properties: { name: { type: 'string' }, datatype: { type: 'string' }, shape: { type: 'array', items: { type: 'integer' } } },
} as const;

export const errorSchema = { type: 'object', required: ['error'], properties: { error: { type: 'string' } } } as const;

export const serverMetadataSchema = {
  type: 'object',
  required: ['name', 'version', 'extensions'],
  properties: { name: { type: 'string' }, version: { type: 'string' }, extensions: { type: 'array', items: { type: 'string' } } },
} as const;

export const modelMetadataSchema = {
  type: 'object',
  required: ['name', 'platform', 'inputs', 'outputs'],
  properties: {
    name: { type: 'string' },
    versions: { type: 'array', items: { type: 'string' } },
    platform: { type: 'string' },
    inputs: { type: 'array', items: metadataTensor },
    outputs: { type: 'array', items: metadataTensor },
    parameters: {
      type: 'object',
      properties: {
        fingerprint: { type: 'string' },
        file_fingerprint: { type: 'string' },
        self_test: { type: 'string' },
        preprocess_mean: { type: 'string', description: "An image model's per-channel mean (comma-separated), where its file records its preprocessing: (pixel / 255 − mean) / std." },
        preprocess_std: { type: 'string', description: "The per-channel std that goes with preprocess_mean." },
      },
    },
  },
} as const;

export const liveSchema = { type: 'object', properties: { live: { type: 'boolean' } } } as const;
export const readySchema = { type: 'object', properties: { ready: { type: 'boolean' } } } as const;
export const modelReadySchema = { type: 'object', properties: { name: { type: 'string' }, ready: { type: 'boolean' } } } as const;

export const modelParams = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string' }, version: { type: 'string' } },
} as const;
