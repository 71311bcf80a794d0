import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { expect, test } from 'vitest';

/**
 * The rules of docs/ARCHITECTURE.md, checked on the source: loaders and backends never import
 * each other, the backend-neutral model imports neither, the browser library never imports the
 * Node-only entry or the server, and no file grows past one sitting's read.
 */
const SRC = resolve(__dirname, '../src');

function sources(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Every relative import of a file, as a path under src/. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)].map((m) => relative(SRC, resolve(file, '..', m[1]!)));
}

const under = (dir: string) => (path: string) => path.startsWith(`${dir}/`);

test.each([
  ['runtime', 'loader'],
  ['loader', 'runtime'],
  ['graph', 'loader'],
  ['graph', 'runtime'],
  ['kernels', 'loader'],
  ['kernels', 'runtime'],
])('src/%s imports nothing from src/%s', (from, to) => {
  const offenders = sources()
    .filter((f) => under(from)(relative(SRC, f)))
    .flatMap((f) => imports(f).filter(under(to)).map((i) => `${relative(SRC, f)} → ${i}`));
  expect(offenders).toEqual([]);
});

test('the library entry reaches neither the Node-only entry nor the server nor the CLI', () => {
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    for (const i of imports(join(SRC, path))) if (i.endsWith('.js')) visit(i.replace(/\.js$/, '.ts')); // .wgsl?raw are text
  };
  visit('index.ts');
  expect([...seen].filter((p) => p === 'node.ts' || under('serve')(p) || under('cli')(p))).toEqual([]);
});

test('the server package (serve/src) reaches the library only through its published entries', () => {
  const SERVE = resolve(__dirname, '../serve/src');
  const offenders = sources(SERVE).flatMap((f) => {
    const text = readFileSync(f, 'utf8');
    const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1]!);
    return specifiers
      .filter((s) => (s.startsWith('.') && !resolve(f, '..', s).startsWith(SERVE)) || (s.startsWith('resgpu/') && !['resgpu/cli', 'resgpu/node'].includes(s)))
      .map((s) => `${relative(SERVE, f)} → ${s}`);
  });
  expect(offenders).toEqual([]);
});

test('no source file is over 400 lines', () => {
  const long = [...sources(), ...sources(resolve(__dirname, '../serve/src'))]
    .map((f) => [relative(SRC, f), readFileSync(f, 'utf8').split('\n').length] as const)
    .filter(([, lines]) => lines > 400);
  expect(long).toEqual([]);
});
