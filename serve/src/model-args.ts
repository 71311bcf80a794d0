import { basename, extname } from 'node:path';
import type { Model } from 'resgpu';
import { CliError, EXIT, loadModelArg, usage } from 'resgpu/cli';
import { MODEL_NAME, type ModelSource } from './served-model.js';

/** One MODEL argument: `path`, `name=path` or `name@version=path` (a path may be an http(s) URL). */
export interface ModelArg {
  name: string;
  version: string;
  source: string;
}

const NAMED = /^([A-Za-z0-9_][A-Za-z0-9_.-]*)(?:@([A-Za-z0-9_][A-Za-z0-9_.-]*))?=(.+)$/s;

/**
 * The models to serve, named: from `name=` when given, else from the file name without its
 * extension (models/breast_cancer.pt → breast_cancer). A (name, version) given twice, or a file
 * name that is not a valid model name, is a usage error.
 */
export function parseModelArgs(command: string, args: readonly string[]): ModelArg[] {
  if (args.length === 0) throw usage(command, 'missing MODEL');
  const models = args.map((arg): ModelArg => {
    const named = NAMED.exec(arg);
    if (named) return { name: named[1]!, version: named[2] ?? '1', source: named[3]! };
    const file = basename(/^https?:\/\//.test(arg) ? new URL(arg).pathname : arg);
    const name = file.slice(0, file.length - extname(file).length);
    if (!MODEL_NAME.test(name)) throw usage(command, `cannot name a model after ${JSON.stringify(arg)}; name it: NAME=${arg}`);
    return { name, version: '1', source: arg };
  });
  const seen = new Set<string>();
  for (const m of models) {
    const key = `${m.name}@${m.version}`;
    if (seen.has(key)) throw usage(command, `two models are named ${m.name} (version ${m.version}); name them apart: a=${m.source} b=...`);
    seen.add(key);
  }
  return models;
}

/**
 * Loads every model, or none: when one fails, those that loaded are disposed and the error
 * names each file that failed and why, so a server never starts half-ready. The exit code is
 * the first failure's (3 for a model file that cannot be loaded).
 */
export async function loadAll(args: readonly ModelArg[], backend: string | undefined, deterministic = true, inputShape?: readonly number[]): Promise<ModelSource[]> {
  // Batches vary in size; padded to powers of two they need up to ~12 WebGPU plans, kept at once.
  // Deterministic by default: with dynamic batching, a row's answer must not depend on who else
  // was in its batch (docs/VALIDATION.md).
  const results = await Promise.allSettled(args.map((a) => loadModelArg(a.source, backend, { maxCachedPlans: 16, deterministic, ...(inputShape && { inputShape: [...inputShape] }) })));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ arg: args[i]!, error: r.reason as Error }] : []));
  if (failed.length === 0) {
    return results.map((r, i) => ({ name: args[i]!.name, version: args[i]!.version, file: basename(args[i]!.source), model: (r as PromiseFulfilledResult<Model>).value }));
  }
  await Promise.all(results.map((r) => (r.status === 'fulfilled' ? r.value.dispose() : undefined)));
  const lines = failed.map(({ arg, error }) => `  ${arg.name} (${arg.source}): ${error.message}`);
  const code = failed[0]!.error instanceof CliError ? (failed[0]!.error as CliError).exitCode : EXIT.internal;
  const what = args.length === 1 ? 'The model could not be loaded' : `${failed.length} of ${args.length} models could not be loaded`;
  throw new CliError(code, `resgpu-serve: ${what}; serving none:\n${lines.join('\n')}`);
}
