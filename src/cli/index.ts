/**
 * dist/cli.js, the 'resgpu/cli' export: the `resgpu` command (bin/resgpu.mjs runs `main`) and
 * the pieces of it the server package, resgpu-serve, reuses so that both commands load models,
 * classify failures and exit alike. Built apart from the browser bundle; no stable API beyond
 * what resgpu-serve of the same minor version needs.
 */
export { main, runCommand, type CliOutput, type Command } from './main.js';
export { CliError, EXIT, EXIT_CODES_HELP } from './exit-codes.js';
export { intOption, parseCommand, positionals, shapeOption, usage } from './args.js';
export { loadModelArg } from './load.js';
export { answerOf, modelShape, type ModelShape } from './answer.js';
