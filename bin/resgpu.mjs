#!/usr/bin/env node
// The `resgpu` command. The CLI is built with the library (npm run build → dist/cli.js).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('resgpu: dist/cli.js is missing; build it first with `npm run build`.\n');
  process.exit(1);
}
const { main } = await import(cli.href);
const code = await main(process.argv.slice(2));
// Exit once what was written has been flushed (stdout may be a pipe to another program); exiting
// at all matters because Dawn's threads would otherwise keep Node alive.
process.stdout.write('', () => process.exit(code));
