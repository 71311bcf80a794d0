import { extname } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { CliError, EXIT } from './exit-codes.js';

/** What `resgpu run` needs to know about the model to read rows. */
export interface RowShape {
  inputSize: number;
  features?: readonly string[];
}

/**
 * Reads the rows of `resgpu run --input`: JSON (an array of rows, or the server's request body
 * {"inputs": [...]} / {"instances": [...]}) or CSV (one row per line; a first line that is not
 * numbers is a header naming the columns, which must then be the model's feature names, in any
 * order). Returns them row-major, in the model's feature order.
 */
export function parseRows(text: string, format: 'csv' | 'json', shape: RowShape): { x: Float32Array; rows: number } {
  const rows = format === 'json' ? jsonRows(text, shape) : csvRows(text, shape);
  if (rows.length === 0) throw inputError('the input has no rows');
  const x = new Float32Array(rows.length * shape.inputSize);
  rows.forEach((row, r) => {
    if (row.length !== shape.inputSize) throw inputError(`row ${r} has ${row.length} values; the model takes ${shape.inputSize}`);
    row.forEach((v, c) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw inputError(`row ${r}, column ${columnName(c, shape)}: ${JSON.stringify(v)} is not a finite number`);
      x[r * shape.inputSize + c] = v;
    });
  });
  return { x, rows: rows.length };
}

/** csv for a .csv file, json otherwise. */
export function formatOfPath(path: string): 'csv' | 'json' {
  return extname(path).toLowerCase() === '.csv' ? 'csv' : 'json';
}

function jsonRows(text: string, shape: RowShape): unknown[][] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw inputError(`not valid JSON (${(e as Error).message})`);
  }
  if (Array.isArray(data)) return data.map((row, r) => asRow(row, r, shape));
  const o = data as Record<string, unknown> | null;
  if (o && Array.isArray(o.inputs)) return o.inputs.map((row, r) => asRow(row, r, shape));
  if (o && Array.isArray(o.instances)) return o.instances.map((row, r) => asRow(row, r, shape));
  throw inputError('expected an array of rows, or an object with "inputs" or "instances"');
}

/** An array row as it is; an object row by the model's feature names. */
function asRow(row: unknown, r: number, shape: RowShape): unknown[] {
  if (Array.isArray(row)) return row;
  if (row === null || typeof row !== 'object') throw inputError(`row ${r} is neither an array nor an object`);
  if (!shape.features) throw inputError(`row ${r} is an object, but the model has no feature names; give arrays of numbers`);
  const o = row as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !shape.features!.includes(k));
  if (unknown.length) throw inputError(`row ${r} has ${JSON.stringify(unknown[0])}, which is not a feature of the model`);
  return shape.features.map((name) => {
    if (!(name in o)) throw inputError(`row ${r} has no ${JSON.stringify(name)}`);
    return o[name];
  });
}

function csvRows(text: string, shape: RowShape): unknown[][] {
  let cells: string[][];
  try {
    cells = parseCsv(text, { skipEmptyLines: true, trim: true, relaxColumnCount: true }) as string[][];
  } catch (e) {
    throw inputError(`not valid CSV (${(e as Error).message})`);
  }
  const header = cells[0]?.some((c) => c.trim() === '' || Number.isNaN(Number(c))) ? cells.shift()! : null;
  const order = header ? headerOrder(header, shape) : null;
  return cells.map((row) => {
    const values = row.map((c) => (c.trim() === '' ? c : Number(c)));
    return order ? order.map((i) => values[i]) : values;
  });
}

/** For each model feature, its column in the file. */
function headerOrder(header: string[], shape: RowShape): number[] {
  if (!shape.features) {
    throw inputError(`the first line (${header.slice(0, 3).join(',')}...) is not numbers, and the model has no feature names to match a header against`);
  }
  const names = header.map((h) => h.trim());
  return shape.features.map((name) => {
    const i = names.indexOf(name);
    if (i < 0) throw inputError(`the header has no column ${JSON.stringify(name)}`);
    return i;
  });
}

function columnName(c: number, shape: RowShape): string {
  return shape.features ? `${c} (${shape.features[c]})` : String(c);
}

function inputError(why: string): CliError {
  return new CliError(EXIT.input, `Cannot read the input rows: ${why}.`);
}
