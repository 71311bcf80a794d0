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

test.each([
  // The backend-neutral model and the options sit below the backends and the public API.
  ['graph/', ['model.ts', 'options.ts', 'index.ts']],
  ['options.ts', ['runtime/', 'kernels/', 'loader/', 'graph/fuse.ts']],
  ['kernels/', ['model.ts', 'index.ts']],
])('%s imports none of %j', (from, forbidden) => {
  const offenders = sources()
    .map((f) => relative(SRC, f))
    .filter((f) => (from.endsWith('/') ? under(from.slice(0, -1))(f) : f === from))
    .flatMap((f) => imports(join(SRC, f)).map((i) => i.replace(/\.js$/, '.ts')).filter((i) => forbidden.some((x) => (x.endsWith('/') ? under(x.slice(0, -1))(i) : i === x))).map((i) => `${f} → ${i}`));
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

test('no two source files import each other', () => {
  // A pair that imports each other is one module in two files: neither can be read, tested or
  // loaded alone (loader/source.ts ↔ file-source.ts was one; what both needed is arrived.ts now).
  const importsOf = new Map(sources().map((f) => [relative(SRC, f), new Set(imports(f).map((i) => i.replace(/\.js$/, '.ts')))]));
  const mutual = [...importsOf].flatMap(([file, deps]) => [...deps].filter((d) => d > file && importsOf.get(d)?.has(file)).map((d) => `${file} ↔ ${d}`));
  expect(mutual).toEqual([]);
});
