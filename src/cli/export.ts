import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError, EXIT } from './exit-codes.js';

/**
 * The Python exporter shipped with the package, tools/export_resgpu.py: one level up from the
 * built dist/cli.js, two from these sources (src/cli/export.ts, as the tests import it).
 */
const EXPORTER_CANDIDATES = ['../tools/export_resgpu.py', '../../tools/export_resgpu.py'].map((p) => fileURLToPath(new URL(p, import.meta.url)));

export const EXPORT_HELP = `Usage: resgpu export WHOLE_MODEL.pth OUT.safetensors [--features NAMES] [--labels NAMES]
                     [--input-shape SHAPE] [--dtype float32|float16|bfloat16|float64] [--python PYTHON]

Writes resgpu's native .safetensors (weights plus the graph manifest, version 2) from a file
written by torch.save(model) (the whole module, so its classes must be importable), by running
the bundled tools/export_resgpu.py with your python3 and PyTorch. The exporter reads the real
forward graph with torch.fx, checks in float64 that the file computes what forward() does, and
refuses what it cannot express, naming the module or function.

Options:
  --features NAMES    input feature names, one per input column: a,b,c or @file (one per line)
  --labels NAMES      class labels, one per output: a,b or @file
  --input-shape SHAPE the input's row shape without the batch: 30, or C,H,W
                      (default: the in_features of the first Linear)
  --dtype TYPE        weight dtype in the file (default float32)
  --python PYTHON     the interpreter (default: $PYTHON, else python3)
  -h, --help          this help

A model saved as a state_dict needs no export: resgpu loads .pt state_dicts directly.`;

export async function exportCommand(argv: string[], out: (s: string) => void): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) return out(EXPORT_HELP), 0;
  const at = argv.indexOf('--python');
  const python = at >= 0 ? argv[at + 1] : process.env.PYTHON || 'python3';
  const args = at >= 0 ? [...argv.slice(0, at), ...argv.slice(at + 2)] : argv;
  if (!python) throw new CliError(EXIT.usage, 'resgpu export: --python needs a path\nSee: resgpu export --help');
  const exporter = EXPORTER_CANDIDATES.find((p) => existsSync(p));
  if (!exporter) throw new CliError(EXIT.internal, `The bundled exporter is missing: ${EXPORTER_CANDIDATES[0]}`);
  checkPyTorch(python);
  // The exporter parses its own arguments (argparse): usage errors come back as its exit code 2.
  const code = await new Promise<number>((resolve, reject) => {
    // torch.load imports the model's classes by module name: let it find them where the user is.
    const pythonPath = [process.cwd(), process.env.PYTHONPATH].filter(Boolean).join(delimiter);
    const child = spawn(python, [exporter, ...args], { stdio: 'inherit', env: { ...process.env, PYTHONPATH: pythonPath } });
    child.on('error', reject);
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
  });
  if (code === 0) return 0;
  return code === 2 ? EXIT.usage : EXIT.failed;
}

/** Fails early, saying what to install, when python3 or its PyTorch is missing. */
function checkPyTorch(python: string): void {
  // find_spec, not import: importing torch takes seconds, and the exporter does it anyway.
  const probe = spawnSync(python, ['-c', "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('torch') else 1)"], { encoding: 'utf8' });
  if (probe.error) {
    throw new CliError(EXIT.environment, `resgpu export needs Python 3 with PyTorch, but ${python} could not be run (${probe.error.message}). Install Python 3, or pass --python /path/to/python3.`);
  }
  if (probe.status !== 0) {
    throw new CliError(
      EXIT.environment,
      `resgpu export needs PyTorch, and ${python} has none (no module named torch). Install it: ` +
        `pip install torch (CPU-only wheels: pip install torch --index-url https://download.pytorch.org/whl/cpu), ` +
        `or on Debian/Ubuntu: apt-get install python3-torch. Or point at an interpreter that has it: --python /path/to/python3.`,
    );
  }
}
