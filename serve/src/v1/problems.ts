import type { FastifyError } from 'fastify';
import type { ModelShape } from 'resgpu/cli';
import { acceptsInstances } from './schemas.js';

/** The JSON body of every 4xx/5xx answer (see errorSchema). */
export interface Problem {
  statusCode: number;
  code: string;
  message: string;
  row?: number;
  field?: string;
  expected?: string;
}

/** The subset of an Ajv error we read. */
interface SchemaError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
}

/** A body that is not JSON, with the parser's own explanation. */
export class InvalidJsonError extends Error {
  readonly code = 'RESGPU_INVALID_JSON';
  readonly statusCode = 400;
}

const FINITE = 'a finite number (JSON has no NaN or Infinity; floats above ±3.4e38 overflow float32)';

/**
 * Turns what went wrong into a precise answer: which row, which field, what was expected. Ajv
 * reports the first schema violation (allErrors is off); we name it in the request's terms.
 */
export function toProblem(error: FastifyError, body: unknown, shape: ModelShape, maxRows: number, bodyLimit: number): Problem {
  if (error.validation && error.validation.length > 0) {
    return schemaProblem(mostUseful(error.validation as SchemaError[]), body, shape, maxRows);
  }
  switch (error.code) {
    case 'RESGPU_INVALID_JSON':
      return {
        statusCode: 400,
        code: 'invalid_json',
        message: `The body is not valid JSON: ${error.message}. (JSON has no NaN or Infinity: send finite numbers.)`,
        expected: 'a JSON object such as {"inputs": [[...]]}',
      };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        statusCode: 413,
        code: 'body_too_large',
        message: `The body is over the limit of ${bodyLimit} bytes; send fewer rows per request (the server's --body-limit).`,
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        statusCode: 415,
        code: 'unsupported_media_type',
        message: 'Send the body as JSON, with the header Content-Type: application/json.',
      };
  }
  const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
  return { statusCode: status, code: status < 500 ? 'bad_request' : 'internal_error', message: error.message };
}

/**
 * Of all schema violations, the one to report: the first row's, and within it an unknown name
 * before the missing one it probably misspells, a wrong length before the bad values it causes.
 */
function mostUseful(errors: SchemaError[]): SchemaError {
  const rank: Record<string, number> = { additionalProperties: 0, maxProperties: 1, minItems: 2, maxItems: 2, type: 3, required: 4 };
  const rowOf = (e: SchemaError) => Number(e.instancePath.split('/')[2] ?? -1);
  return [...errors].sort((a, b) => rowOf(a) - rowOf(b) || (rank[a.keyword] ?? 3) - (rank[b.keyword] ?? 3))[0]!;
}

function schemaProblem(e: SchemaError, body: unknown, shape: ModelShape, maxRows: number): Problem {
  // "/inputs/3/5" → ['inputs', '3', '5']; JSON Pointer escapes ~ and / in names.
  const path = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const [form, rowText, column] = path;
  const row = rowText === undefined ? undefined : Number(rowText);
  const value = valueAt(body, path);
  const bad = (code: string, message: string, extra: Partial<Problem> = {}): Problem => ({
    statusCode: 400,
    code,
    message,
    ...(row !== undefined && { row }),
    ...extra,
  });

  if (form === undefined) {
    if (e.keyword === 'type') return bad('not_an_object', 'The body must be a JSON object.', { expected: '{"inputs": [[...]]}' });
    if (e.keyword === 'additionalProperties') {
      const name = String(e.params.additionalProperty);
      return bad('unknown_field', `The body has an unknown field "${name}".`, { field: name, expected: formsText(shape) });
    }
    if (e.keyword === 'maxProperties') return bad('both_forms', 'Send the rows once: either "inputs" or "instances", not both.');
    return bad('missing_inputs', `The body has no rows: send ${formsText(shape)}.`, { expected: formsText(shape) });
  }
  if (row === undefined) {
    if (e.keyword === 'minItems') return bad('empty_inputs', `"${form}" is empty; send at least one row.`);
    if (e.keyword === 'maxItems') {
      return bad('too_many_rows', `"${form}" has ${lengthOf(value)} rows; this server takes at most ${maxRows} per request (--max-rows).`, {
        expected: `1 to ${maxRows} rows`,
      });
    }
    return bad('not_an_array', `"${form}" must be an array of rows.`, { expected: 'an array' });
  }
  const where = `${form}[${row}]`;
  if (column === undefined) {
    if (form === 'inputs') {
      if (e.keyword === 'type') return bad('row_not_an_array', `${where} must be an array of ${shape.inputSize} numbers.`, { expected: `${shape.inputSize} numbers` });
      return bad('wrong_row_length', `${where} has ${lengthOf(value)} value(s); this model takes ${shape.inputSize}.`, {
        expected: `${shape.inputSize} numbers`,
      });
    }
    if (e.keyword === 'required') {
      const name = String(e.params.missingProperty);
      return bad('missing_field', `${where} has no "${name}"; every feature is required.`, { field: name, expected: FINITE });
    }
    if (e.keyword === 'additionalProperties') {
      const name = String(e.params.additionalProperty);
      return bad('unknown_field', `${where} has "${name}", which is not a feature of this model.`, {
        field: name,
        expected: `only the model's ${shape.inputSize} feature names`,
      });
    }
    return bad('row_not_an_object', `${where} must be an object keyed by feature name.`, { expected: 'an object' });
  }
  const field = form === 'inputs' && shape.features ? shape.features[Number(column)] ?? column : column;
  const at = form === 'inputs' ? `${where}[${column}]${shape.features ? ` ("${field}")` : ''}` : `${where}["${column}"]`;
  const extra = { field, expected: FINITE };
  if (typeof value === 'number') {
    // Ajv refuses Infinity as a number, and a finite value past float32's range fails the bound.
    return bad('not_finite', `${at} is ${value}, which is not a finite float32.`, extra);
  }
  return bad('not_a_number', `${at} is ${JSON.stringify(value) ?? 'missing'}, not a number.`, extra);
}

function formsText(shape: ModelShape): string {
  return acceptsInstances(shape) ? '{"inputs": [[...]]} or {"instances": [{...}]}' : '{"inputs": [[...]]}';
}

function valueAt(body: unknown, path: string[]): unknown {
  let v = body;
  for (const key of path) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
  return v;
}

function lengthOf(v: unknown): number | string {
  return Array.isArray(v) ? v.length : 'no';
}
