// The digits model, trained once: examples/digits/train.py writes model/ (digits.safetensors,
// digits.test.json, digits.meta.json) when it is missing or was made by another train.py.
// Called by the example's server and by the tests' global set-up, so a fresh clone works.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const HERE = import.meta.dirname;
export const DIGITS_MODEL_DIR = join(HERE, 'model');
const TRAINER = join(HERE, 'train.py');

export function makeDigitsModel() {
  const meta = join(DIGITS_MODEL_DIR, 'digits.meta.json');
  const hash = createHash('sha256').update(readFileSync(TRAINER)).digest('hex');
  if (existsSync(meta) && JSON.parse(readFileSync(meta, 'utf8')).train_py_sha256 === hash) return;
  console.error('digits: training the example model on scikit-learn\'s digits (under a minute on 2 cores)');
  execFileSync('/usr/bin/python3', [TRAINER, DIGITS_MODEL_DIR], { stdio: ['ignore', 'inherit', 'inherit'] });
}
