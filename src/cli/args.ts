import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError, EXIT } from './exit-codes.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs, strict, with its errors turned into usage errors that point at --help. */
export function parseCommand<O extends Options>(command: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw usage(command, (e as Error).message);
  }
}

export function usage(command: string, why: string): CliError {
  return new CliError(EXIT.usage, `resgpu ${command}: ${why}\nSee: resgpu ${command} --help`);
}

/** A whole number option within [min, max], or the default when absent. */
export function intOption(command: string, name: string, value: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw usage(command, `--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** Exactly `count` positional arguments, named for the message. */
export function positionals(command: string, given: string[], names: string[]): string[] {
  if (given.length < names.length) throw usage(command, `missing ${names.slice(given.length).join(' and ')}`);
  if (given.length > names.length) throw usage(command, `unexpected argument ${JSON.stringify(given[names.length])}`);
  return given;
}

/** --input-shape C,H,W (or a single width): the row shape of a model whose file records none (a ResNet .pt). */
export function shapeOption(command: string, value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const dims = value.split(',').map((d) => Number(d.trim()));
  if (dims.length < 1 || dims.length > 3 || !dims.every((d) => Number.isSafeInteger(d) && d >= 1)) {
    throw usage(command, `--input-shape must be 1 to 3 positive whole numbers, e.g. 3,224,224, got ${JSON.stringify(value)}`);
  }
  return dims;
}
