#!/usr/bin/env node
// The `resgpu-serve` command: the server package's build (npm run build → dist/index.js), run
// through resgpu's own command runner, so failures print and exit as `resgpu serve`'s do.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/index.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('resgpu-serve: dist/index.js is missing; build it first with `npm run build`.\n');
  process.exit(1);
}
const { serveCommand } = await import(entry.href);
const { runCommand } = await import('resgpu/cli');
const code = await runCommand(serveCommand, process.argv.slice(2));
// Exit once stdout is flushed; exiting at all matters because Dawn's threads would keep Node alive.
process.stdout.write('', () => process.exit(code));
