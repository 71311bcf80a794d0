/**
 * The `resgpu` command (package.json "bin"): serve, info, run, export. Built to dist/cli.js,
 * apart from the browser bundle. `serve` runs the server package, resgpu-serve, when it is
 * installed (serve.ts), so that Fastify and the rest never reach a browser app's install.
 */
import { ResgpuError } from '../index.js';
import { exportCommand, EXPORT_HELP } from './export.js';
import { CliError, EXIT, EXIT_CODES_HELP } from './exit-codes.js';
import { infoCommand, INFO_HELP } from './info.js';
import { runCommand as runRowsCommand, RUN_HELP } from './run.js';
import { serveCommand, SERVE_HELP } from './serve.js';

/** A command: runs with its arguments, prints through `out`, resolves with the exit code. */
export type Command = (argv: string[], out: (s: string) => void) => Promise<number>;

const COMMANDS: Record<string, { run: Command; help: string; summary: string }> = {
  serve: { run: serveCommand, help: SERVE_HELP, summary: 'serve models over HTTP (needs resgpu-serve: Open Inference Protocol, predict, metrics)' },
  info: { run: infoCommand, help: INFO_HELP, summary: 'print a model\'s graph, sizes, folded BatchNorms and dispatches' },
  run: { run: runRowsCommand, help: RUN_HELP, summary: 'run a model on rows from a CSV or JSON file' },
  export: { run: exportCommand, help: EXPORT_HELP, summary: 'write .safetensors from a torch.save(model) file (needs PyTorch)' },
};

export const MAIN_HELP = `Usage: resgpu COMMAND [options]

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)}${c.summary}`).join('\n')}

MODEL is a .pt/.pth (torch.save of a state_dict), .safetensors or .onnx file, as a path or an
http(s) URL. "resgpu COMMAND --help" tells more.

${EXIT_CODES_HELP}`;

export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
}

const STDIO: CliOutput = {
  out: (s) => void process.stdout.write(`${s}\n`),
  err: (s) => void process.stderr.write(`${s}\n`),
};

/** Runs the CLI; resolves with the exit code (serve: once it has shut down). */
export async function main(argv: string[], { out, err }: CliOutput = STDIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    err(`resgpu: no command given\n\n${MAIN_HELP}`);
    return EXIT.usage;
  }
  if (name === '-h' || name === '--help' || name === 'help') return out(MAIN_HELP), EXIT.ok;
  if (name === '--version') return out(await version()), EXIT.ok;
  const command = COMMANDS[name];
  if (!command) {
    err(`resgpu: unknown command ${JSON.stringify(name)}\n\n${MAIN_HELP}`);
    return EXIT.usage;
  }
  return runCommand(command.run, rest, { out, err });
}

/** Runs one command, turning its failures into a message on stderr and the exit code that classifies them. */
export async function runCommand(run: Command, argv: string[], { out, err }: CliOutput = STDIO): Promise<number> {
  try {
    return await run(argv, out);
  } catch (e) {
    if (e instanceof CliError) {
      err(e.message);
      return e.exitCode;
    }
    // An engine error the command did not classify (e.g. a run failing on the device).
    err(e instanceof ResgpuError ? `resgpu: ${e.name}: ${e.message}` : `resgpu: internal error: ${(e as Error)?.stack ?? e}`);
    return e instanceof ResgpuError ? EXIT.failed : EXIT.internal;
  }
}

async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  for (const path of ['../package.json', '../../package.json']) {
    try {
      return JSON.parse(await readFile(new URL(path, import.meta.url), 'utf8')).version as string;
    } catch {
      // not at this level: try the next
    }
  }
  return 'unknown';
}
