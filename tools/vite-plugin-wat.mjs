// A Vite (and so Vitest) plugin: `import gemm from './gemm.wat'` assembles the WebAssembly text
// with wabt at build time and gives the module's four build variants as base64 strings, which
// the bundle then carries inline (no asset for users to serve or configure):
//   relaxed / plain: f32x4.relaxed_madd kept, or rewritten to f32x4.mul + f32x4.add for engines
//                    without relaxed SIMD;
//   shared / unshared: the imported memory shared (threads) or not (pages that are not
//                    cross-origin isolated cannot make shared memory).
// A line `(include "name.wat")` is replaced by that file (a path relative to the module's file),
// so that one module can be kept in files of a sitting each.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import wabtInit from 'wabt';

const SHARED_MEMORY = /\(memory (\d+) (\d+) shared\)/;
const MADD = '(f32x4.relaxed_madd';
const INCLUDE = /^[ \t]*\(include "([^"]+)"\)[ \t]*$/m;

/** The text of the module at the path `file`, its includes spliced in, and every file read. */
export async function readModule(file) {
  const files = [file];
  let text = await readFile(file, 'utf8');
  for (let match = INCLUDE.exec(text); match; match = INCLUDE.exec(text)) {
    const included = resolve(dirname(file), match[1]);
    if (files.length > 16) throw new Error(`${file}: more than 16 includes (an include cycle?) at ${match[1]}`);
    files.push(included);
    text = text.slice(0, match.index) + (await readFile(included, 'utf8')) + text.slice(match.index + match[0].length);
  }
  return { text, files };
}

/** Index just past the balanced s-expression that starts at text[start] === '('. */
function endOfExpression(text, start) {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return i + 1;
  }
  throw new Error(`unbalanced parentheses from offset ${start}`);
}

/** (f32x4.relaxed_madd A B C) → (f32x4.add (f32x4.mul A B) C): the same a·b + c, rounded twice. */
export function withoutRelaxedSimd(wat) {
  let out = '';
  let cursor = 0;
  for (let i = wat.indexOf(MADD); i >= 0; i = wat.indexOf(MADD, cursor)) {
    const args = [];
    let j = i + MADD.length;
    for (let n = 0; n < 3; n++) {
      j = wat.indexOf('(', j);
      const end = endOfExpression(wat, j);
      args.push(wat.slice(j, end));
      j = end;
    }
    out += `${wat.slice(cursor, i)}(f32x4.add (f32x4.mul ${args[0]} ${args[1]}) ${args[2]})`;
    cursor = endOfExpression(wat, i);
  }
  return out + wat.slice(cursor);
}

/** The module's text with its memory import made unshared. */
export function withUnsharedMemory(wat) {
  if (!SHARED_MEMORY.test(wat)) throw new Error('the module must import a shared memory: (memory MIN MAX shared)');
  return wat.replace(SHARED_MEMORY, '(memory $1 $2)');
}

/** The four variants, assembled and validated: { relaxed: { shared, unshared }, plain: { … } } as base64. */
export async function assembleVariants(file, source) {
  const wabt = await wabtInit();
  const wat = source.replace(/;;.*$/gm, ''); // comments may name instructions; only code is rewritten
  const assemble = (text, variant) => {
    const features = { simd: true, relaxed_simd: true, threads: true };
    const module = wabt.parseWat(`${file} (${variant})`, text, features);
    try {
      module.validate(features);
      return Buffer.from(module.toBinary({}).buffer).toString('base64');
    } finally {
      module.destroy();
    }
  };
  const plain = withoutRelaxedSimd(wat);
  if (plain.includes('relaxed_')) throw new Error(`${file}: a relaxed SIMD instruction other than f32x4.relaxed_madd has no plain rewrite`);
  return {
    relaxed: { shared: assemble(wat, 'relaxed, shared'), unshared: assemble(withUnsharedMemory(wat), 'relaxed, unshared') },
    plain: { shared: assemble(plain, 'plain, shared'), unshared: assemble(withUnsharedMemory(plain), 'plain, unshared') },
  };
}

export function watPlugin() {
  return {
    name: 'resgpu-wat',
    async load(id) {
      if (!id.endsWith('.wat')) return null;
      const { text, files } = await readModule(id);
      for (const f of files) this.addWatchFile?.(f);
      const variants = await assembleVariants(id, text);
      return `export default ${JSON.stringify(variants)};`;
    },
  };
}
