import { CliError, EXIT } from './exit-codes.js';

/**
 * `resgpu serve`: the server lives in its own package, resgpu-serve (Fastify, Swagger UI,
 * prom-client), so that a browser app installing resgpu installs no web server. It is imported
 * when the command runs; without it, the command says what to install and exits 5
 * (missing environment).
 */
export const SERVE_MISSING = `resgpu serve needs the server package, which is not installed. Install it beside resgpu:
  npm install resgpu-serve
then run: npx resgpu serve MODEL... (or npx resgpu-serve MODEL...)`;

export const SERVE_HELP = `Usage: resgpu serve MODEL... [options]

Serves models over HTTP (the Open Inference Protocol, /v1/predict, OpenAPI docs, metrics).
The server is the resgpu-serve package: npm install resgpu-serve; its --help tells the rest.`;

interface ServePackage {
  serveCommand(argv: string[], out: (s: string) => void): Promise<number>;
  SERVE_HELP: string;
}

export async function serveCommand(argv: string[], out: (s: string) => void): Promise<number> {
  const server = await importServer();
  if (!server) {
    if (argv.includes('-h') || argv.includes('--help')) return out(`${SERVE_HELP}\n\n${SERVE_MISSING}`), EXIT.ok;
    throw new CliError(EXIT.environment, SERVE_MISSING);
  }
  return server.serveCommand(argv, out);
}

/** resgpu-serve, or null when it is not installed (any other failure to load it is a bug to report). */
async function importServer(): Promise<ServePackage | null> {
  const name = 'resgpu-serve';
  try {
    return (await import(name)) as ServePackage;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String((e as Error).message).includes(`'${name}'`)) return null;
    throw e;
  }
}
