import { readFile } from 'node:fs/promises';
import type { Model } from '../index.js';
import { answerOf, modelShape } from './answer.js';
import { parseCommand, positionals, shapeOption, usage } from './args.js';
import { CliError, EXIT } from './exit-codes.js';
import { loadModelArg } from './load.js';
import { formatOfPath, parseRows } from './rows-file.js';

export const RUN_HELP = `Usage: resgpu run MODEL --input ROWS [--format csv|json] [--backend NAME]

Runs MODEL on the rows in ROWS and prints one line of outputs per row.

ROWS (a path, or - for stdin):
  .csv   one row per line; a first line that is not numbers is a header of feature names,
         matched to the model's (any column order)
  other  JSON: [[x1, ...], ...], or the server's body {"inputs": [...]} / {"instances": [...]}

Options:
  --input ROWS        the rows (required)
  --format csv|json   output format (default: csv for a .csv input, json otherwise).
                      json: {"outputs": [[...]], "labels": [...]}; csv: a header, then one line
                      per row, columns named by the model's labels when it has
                      them, then the predicted label
  --backend NAME      passed to the engine as is; default: the engine's choice
  --input-shape C,H,W the input row's shape, for an image model whose file records none
  -h, --help          this help`;

export async function runCommand(argv: string[], out: (s: string) => void): Promise<number> {
  const { values, positionals: args } = parseCommand('run', argv, {
    input: { type: 'string', short: 'i' },
    format: { type: 'string' },
    backend: { type: 'string' },
    'input-shape': { type: 'string' },
  });
  if (values.help) return out(RUN_HELP), 0;
  const [file] = positionals('run', args, ['MODEL']);
  if (!values.input) throw usage('run', 'missing --input ROWS');
  if (values.format !== undefined && values.format !== 'csv' && values.format !== 'json') {
    throw usage('run', `--format must be csv or json, got ${JSON.stringify(values.format)}`);
  }
  const inputFormat = values.input === '-' ? 'json' : formatOfPath(values.input);
  const text = await readInput(values.input);
  const inputShape = shapeOption('run', values['input-shape']);
  const model = await loadModelArg(file!, values.backend, inputShape ? { inputShape } : {});
  try {
    const shape = modelShape(model);
    const { x, rows } = parseRows(text, inputFormat, shape);
    const answer = answerOf(await runInChunks(model, x, rows), rows, shape);
    out((values.format ?? inputFormat) === 'json' ? JSON.stringify(answer) : toCsv(answer, shape.labels, model.outputSize));
  } finally {
    await model.dispose();
  }
  return 0;
}

/** Rows per run: a file of any length stays within a GPU's buffer limits. */
const CHUNK_ROWS = 4096;

async function runInChunks(model: Model, x: Float32Array, rows: number): Promise<Float32Array> {
  const y = new Float32Array(rows * model.outputSize);
  for (let r = 0; r < rows; r += CHUNK_ROWS) {
    const end = Math.min(rows, r + CHUNK_ROWS);
    y.set(await model.run(x.subarray(r * model.inputSize, end * model.inputSize)), r * model.outputSize);
  }
  return y;
}

async function readInput(path: string): Promise<string> {
  try {
    if (path !== '-') return await readFile(path, 'utf8');
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  } catch (e) {
    throw new CliError(EXIT.input, `Cannot read the input rows from ${path}: ${(e as Error).message}`);
  }
}

/** Columns named by the model's labels (output i scores labels[i]), else output_0, output_1, ... */
function toCsv(answer: { outputs: number[][]; labels?: string[] }, labels: readonly string[] | undefined, width: number): string {
  const names = labels ? [...labels] : Array.from({ length: width }, (_, i) => `output_${i}`);
  const header = [...names, ...(answer.labels ? ['predicted'] : [])];
  const lines = answer.outputs.map((row, r) => [...row.map(String), ...(answer.labels ? [csvCell(answer.labels[r]!)] : [])].join(','));
  return [header.map(csvCell).join(','), ...lines].join('\n');
}

function csvCell(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
