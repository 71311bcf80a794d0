/** dist/cli.js: runs the CLI and exits with its code (Dawn's threads would otherwise keep Node alive). */
import { main } from './main.js';

const code = await main(process.argv.slice(2));
// Exit once what was written has been flushed (stdout may be a pipe to another program).
process.stdout.write('', () => process.exit(code));
