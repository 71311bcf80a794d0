import type { ModelDescription, SelfTestResult } from '../index.js';
import { intOption, parseCommand, positionals, shapeOption } from './args.js';
import { loadModelArg } from './load.js';

export const INFO_HELP = `Usage: resgpu info MODEL [--backend NAME] [--batch N] [--input-shape C,H,W] [--json]

Loads MODEL (a .pt/.pth state_dict, .safetensors or .onnx file, as a path or an http(s) URL)
and prints its graph: layers, sizes, the BatchNorms folded into each layer, the compute
dispatches of one run, and memory.

Options:
  --backend NAME  passed to the engine as is (webgpu, cpu, and others the engine knows);
                  default: the engine's choice. The CPU reference plans no dispatches.
  --batch N       describe a run of N rows (default 1)
  --input-shape C,H,W  the input row's shape, for an image model whose file records none
                  (a torchvision ResNet .pt)
  --json          print describe()'s object as JSON
  -h, --help      this help`;

export async function infoCommand(argv: string[], out: (s: string) => void): Promise<number> {
  const { values, positionals: args } = parseCommand('info', argv, {
    backend: { type: 'string' },
    batch: { type: 'string' },
    'input-shape': { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) return out(INFO_HELP), 0;
  const [file] = positionals('info', args, ['MODEL']);
  const batch = intOption('info', 'batch', values.batch, 1) ?? 1;
  const inputShape = shapeOption('info', values['input-shape']);
  const model = await loadModelArg(file!, values.backend, inputShape ? { inputShape } : {});
  try {
    const d = model.describe({ batch });
    const names = { features: model.features, labels: model.labels, inputNames: model.inputNames, outputNames: model.outputNames, inputShape: model.inputShape, selfTest: model.selfTest ?? null };
    out(values.json ? JSON.stringify({ model: file, ...names, ...d }, null, 2) : formatInfo(file!, d, names));
  } finally {
    await model.dispose();
  }
  return 0;
}

function formatInfo(file: string, d: ModelDescription, names: { features?: readonly string[]; labels?: readonly string[]; inputShape?: readonly number[]; selfTest: SelfTestResult | null }): string {
  const image = names.inputShape && names.inputShape.length > 1 ? ` (an image [${names.inputShape.join(', ')}])` : '';
  const lines = [`${file}: ${d.inputSize} inputs${image} → ${d.outputSize} outputs, ${d.layers.length} layers, backend ${d.backend}`];
  if (d.fingerprint) lines.push(`fingerprint: ${d.fingerprint.model ?? 'none'} (file ${d.fingerprint.file ?? 'none'})`);
  const t = names.selfTest;
  lines.push(
    t
      ? `self-test: passed, ${t.rows} golden rows, worst error ${t.worstError.toExponential(2)} (tolerance ${t.tolerance}), ${t.ms.toFixed(1)} ms; vectors: ${t.source}`
      : 'self-test: none (the file carries no golden vectors; the exporter records them)',
  );
  if (d.adapter) lines.push(`adapter: ${[d.adapter.vendor, d.adapter.architecture, d.adapter.description].filter(Boolean).join(' ')}`);
  if (names.features) lines.push(`features: ${names.features.join(', ')}`);
  if (names.labels) lines.push(`labels: ${names.labels.join(', ')}`);
  lines.push('', 'layers:');
  for (const l of d.layers) {
    const shortcut = l.shortcut ? `, ${l.shortcut} shortcut` : '';
    const bns = l.foldedBatchNorms.length ? `; BatchNorms folded: ${l.foldedBatchNorms.join(', ')}` : '';
    lines.push(`  ${l.name.padEnd(12)} ${l.type.padEnd(15)} ${l.inFeatures} → ${l.outFeatures}${shortcut}${bns}`);
  }
  const folded = d.layers.reduce((n, l) => n + l.foldedBatchNorms.length, 0);
  lines.push(`BatchNorms folded: ${folded}`);
  if (d.dispatches.length) {
    lines.push('', `dispatches per run (batch ${d.batch}): ${d.dispatches.length} in ${d.submitsPerRun} submit`);
    for (const x of d.dispatches) {
      const sc = x.shortcutFeatures ? ` + ${x.shortcutFeatures} shortcut` : '';
      lines.push(`  ${x.kernel.padEnd(20)} ${x.layer.padEnd(12)} ${x.inFeatures}${sc} → ${x.outFeatures}  workgroups ${x.workgroups.join('×')}`);
    }
    lines.push('', `GPU memory: weights ${kib(d.gpuBytes.weights)}, activations ${kib(d.gpuBytes.activations)} at batch ${d.batch}`);
  } else {
    lines.push('', `dispatches per run: none (the ${d.backend} backend runs no GPU kernels)`);
  }
  return lines.join('\n');
}

function kib(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`;
}
