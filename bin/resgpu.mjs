#!/usr/bin/env node
// The `resgpu` command. The CLI is built with the library (npm run build → dist/cli.js).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('resgpu: dist/cli.js is missing; build it first with `npm run build`.\n');
  process.exit(1);
}
await import(cli.href);
