import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { GraphError, loadModel, type GraphManifest } from '../src/index.js';
import { TORCH_CASES_DIR } from './global-setup.js';
import { expectClose } from './helpers/compare.js';
import { torchCases, torchFile } from './helpers/torch-cases.js';

/**
 * Fail-closed graph inference: a bare state_dict is inferred only when its keys prove the
 * graph (seed ResidualBlocks, then at most one head Linear). The files here are real
 * torch.save'd state_dicts (test/python/make_torch_cases.py) whose keys do not prove it: each
 * must be refused with a GraphError, and where the refusal suggests a manifest, that manifest
 * must reproduce PyTorch's outputs (same tolerance as every PyTorch parity check: compare.ts).
 */
const cpu = { backend: 'cpu' } as const;
const cases = JSON.parse(readFileSync(join(TORCH_CASES_DIR, 'infer/cases.json'), 'utf8')) as Record<string, { x: number[]; y: number[] }>;
const file = (name: string) => torchFile(`infer/${name}.pt`);

async function refusal(name: string): Promise<GraphError> {
  const error = await loadModel(file(name), cpu).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GraphError);
  return error as GraphError;
}

/** The manifest a refusal shows after "graph: ". */
function suggested(message: string): GraphManifest {
  const start = message.indexOf('graph: {') + 'graph: '.length;
  let depth = 0;
  for (let i = start; i < message.length; i++) {
    depth += message[i] === '{' ? 1 : message[i] === '}' ? -1 : 0;
    if (depth === 0) return JSON.parse(message.slice(start, i + 1)) as GraphManifest;
  }
  throw new Error(`no manifest in: ${message}`);
}

describe('state_dicts whose keys do not prove the graph are refused', () => {
  test('nn.Sequential(Linear, ReLU, Linear, ReLU, Linear): gaps named, and the suggested graph matches PyTorch', async () => {
    const e = await refusal('sequential_mlp');
    expect(e.message).toMatch(/keys 0, 2, 4 under the top level leave gaps at 1, 3.*ReLU\? Dropout\?/);
    expect(e.message).toMatch(/export_resgpu\.py.*torch\.onnx\.export/);
    const graph = suggested(e.message);
    expect(graph.layers.map((l) => (l.type === 'linear' ? l.activation : l.type))).toEqual(['relu', 'relu', 'none']);
    const model = await loadModel({ weights: file('sequential_mlp'), graph }, cpu);
    expectClose(await model.run(Float32Array.from(cases.sequential_mlp!.x)), cases.sequential_mlp!.y);
  });

  test('residual blocks named fc1/fc2 are not read as plain Linears', async () => {
    const e = await refusal('fc_blocks');
    expect(e.message).toMatch(/"0\.fc1" and "0\.fc2" are plain Linears in a row/);
    expect(e.message).toMatch(/"linear1": "0\.fc1", "linear2": "0\.fc2"/);
  });

  test('a stem Linear before the blocks (with a ReLU PyTorch does not record): refused; the suggested graph matches PyTorch', async () => {
    const e = await refusal('stem_relu');
    expect(e.message).toMatch(/"stem" is a Linear before a residual block/);
    const model = await loadModel({ weights: file('stem_relu'), graph: suggested(e.message) }, cpu);
    expectClose(await model.run(Float32Array.from(cases.stem_relu!.x)), cases.stem_relu!.y);
  });

  test('a parameter-free module between a block and the head (a Sequential gap) is refused', async () => {
    const e = await refusal('sequential_blocks_gap');
    expect(e.message).toMatch(/keys 0, 2 under the top level leave gaps at 1/);
  });

  test('two Linears after the blocks are refused', async () => {
    const e = await refusal('two_heads');
    expect(e.message).toMatch(/"1" and "2" are plain Linears in a row/);
  });

  test('a misspelt key is a GraphError naming it, not zip corruption', async () => {
    const e = await refusal('misspelt');
    expect(e.message).toMatch(/the tensors under "linear1" fit no layer/);
  });
});

describe('what the keys do prove is still inferred', () => {
  test.each(torchCases().map((c) => c.name))('%s.pt loads with no graph and matches PyTorch', async (name) => {
    const c = torchCases().find((t) => t.name === name)!;
    const model = await loadModel(torchFile(`${name}.pt`), cpu);
    expectClose(await model.run(Float32Array.from(c.x)), c.y);
  });
});
