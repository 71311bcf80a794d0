import { readFileSync } from 'node:fs';
import { CliError, EXIT, loadModelArg, parseCommand, usage } from 'resgpu/cli';
import { inputHash, type AuditEntry } from './audit.js';

export const REPLAY_HELP = `Usage: resgpu-serve replay AUDIT.jsonl MODEL [--backend NAME]

Runs every request of an audit log written with --audit FILE --audit-inputs again, on MODEL
loaded as the server loads it (deterministic), and checks that the same bits come back:
the model's fingerprint against the logged one, each input's SHA-256, and each output value.
Lines without inputs (logged without --audit-inputs) are counted and skipped.

Exit codes: 0 every replayed answer is bitwise the same, 6 some differ (each is printed),
2 usage, 3 the model cannot be loaded.`;

export async function replayCommand(argv: string[], out: (s: string) => void): Promise<number> {
  const { values, positionals } = parseCommand('serve replay', argv, { backend: { type: 'string' } });
  if (values.help) return out(REPLAY_HELP), 0;
  if (positionals.length !== 2) throw usage('serve replay', 'needs AUDIT.jsonl and MODEL');
  const [log, file] = positionals as [string, string];
  let entries: AuditEntry[];
  try {
    entries = readFileSync(log, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as AuditEntry);
  } catch (e) {
    throw new CliError(EXIT.usage, `resgpu-serve replay: cannot read ${log}: ${(e as Error).message}`);
  }
  const model = await loadModelArg(file, values.backend, { deterministic: true });
  const problems: string[] = [];
  let replayed = 0;
  try {
    for (const e of entries) {
      if (e.fingerprint !== (model.fingerprint?.model ?? null)) problems.push(`${e.request_id}: logged by model ${e.fingerprint}, replayed on ${model.fingerprint?.model}`);
      if (!e.inputs) continue;
      const x = Float32Array.from(e.inputs.flat());
      if (inputHash(x) !== e.input_sha256) problems.push(`${e.request_id}: the logged inputs do not hash to the logged input_sha256`);
      const y = await model.run(x);
      const want = e.outputs.flat();
      const wrong = want.findIndex((v, i) => !Object.is(Math.fround(v), y[i]));
      if (wrong >= 0) problems.push(`${e.request_id}: output ${wrong} is ${y[wrong]}, logged ${want[wrong]}`);
      replayed++;
    }
  } finally {
    await model.dispose();
  }
  out(`replayed ${replayed} of ${entries.length} logged answers (${entries.length - replayed} without inputs); ${problems.length === 0 ? 'every replayed answer is bitwise the same' : `${problems.length} differ:\n  ${problems.join('\n  ')}`}`);
  return problems.length === 0 ? EXIT.ok : EXIT.failed;
}
