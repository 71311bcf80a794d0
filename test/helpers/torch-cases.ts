import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TORCH_CASES_DIR } from '../global-setup.js';

/** A model made and run by real PyTorch in test/python/make_torch_cases.py. */
export interface TorchCase {
  name: string;
  input_size: number;
  output_size: number;
  rows: number;
  blocks: number;
  head: boolean;
  /** The input, and model.eval()(x) as PyTorch computed it. */
  x: number[];
  y: number[];
}

export function torchCases(): TorchCase[] {
  return JSON.parse(readFileSync(join(TORCH_CASES_DIR, 'cases.json'), 'utf8')) as TorchCase[];
}

export function torchFile(name: string): Uint8Array {
  return readFileSync(join(TORCH_CASES_DIR, name));
}

export function hasFile(name: string): boolean {
  try {
    readFileSync(join(TORCH_CASES_DIR, name));
    return true;
  } catch {
    return false;
  }
}
