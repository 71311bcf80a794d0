import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ImageToInputOptions } from '../../src/index.js';

/** One case of test/python/make_image_cases.py: RGBA pixels, imageToInput's options, and the rows computed independently. */
export interface ImageCase {
  name: string;
  width: number;
  height: number;
  rgba: number[];
  options: ImageToInputOptions;
  float64: number[];
}

/** Runs test/python/make_image_cases.py into test/.generated/<file> and reads its cases. */
export function makeImageCases(file: string): ImageCase[] {
  const out = resolve(import.meta.dirname, '../.generated', file);
  mkdirSync(resolve(import.meta.dirname, '../.generated'), { recursive: true });
  execFileSync('/usr/bin/python3', [join(import.meta.dirname, '../python/make_image_cases.py'), out], { stdio: ['ignore', 'inherit', 'inherit'] });
  return (JSON.parse(readFileSync(out, 'utf8')) as { cases: ImageCase[] }).cases;
}
