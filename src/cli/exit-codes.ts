/**
 * The CLI's exit codes, a documented contract (README, `resgpu --help`): scripts branch on them.
 */
export const EXIT = {
  ok: 0,
  /** A bug: an error resgpu did not expect. */
  internal: 1,
  /** Unknown command or option, missing or malformed argument. */
  usage: 2,
  /** The model file could not be read, parsed or loaded (ModelFormatError, GraphError, FetchError). */
  model: 3,
  /** The input rows (resgpu run) could not be read or do not fit the model. */
  input: 4,
  /** Something the command needs is missing: a WebGPU adapter, python3, PyTorch, the resgpu-serve package. */
  environment: 5,
  /** The exporter ran and refused the model, or the server could not listen. */
  failed: 6,
} as const;

export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  internal error (a bug: please report it)
  2  usage error: unknown command or option, missing or malformed argument
  3  the model could not be read or loaded
  4  the input rows could not be read or do not fit the model (resgpu run)
  5  missing environment: no WebGPU adapter, no python3 or no PyTorch, or (serve) no
     resgpu-serve package: npm install resgpu-serve
  6  the command failed: the exporter refused the model, or the server could not listen`;

/** A failure with a message for the user and the exit code that classifies it. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
