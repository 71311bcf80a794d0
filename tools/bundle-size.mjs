// Bundles a safetensors-only app the way a user's Vite build would (minified, tree-shaken) and
// prints what it weighs: `node tools/bundle-size.mjs [--json] [BUNDLE]` after `npm run build`
// (BUNDLE: another build's resgpu.js, to compare; default dist/resgpu.js). The ONNX
// decoder (protobuf) must be a chunk of its own that such an app never loads.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';

const DIST = resolve(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? resolve(import.meta.dirname, '../dist/resgpu.js'));
const APP = "import { loadModel } from 'resgpu';\nconst m = await loadModel('/model.safetensors');\nconsole.log(await m.run(new Float32Array(m.inputSize)));\n";

/** Every chunk of the app: its size, whether it holds protobuf, and whether the page loads it at start (the entry and its static imports). */
export async function bundleSafetensorsApp() {
  const dir = mkdtempSync(join(tmpdir(), 'resgpu-app-'));
  try {
    writeFileSync(join(dir, 'main.js'), APP);
    const [output] = [await build({
      root: dir,
      configFile: false,
      logLevel: 'silent',
      resolve: { alias: { resgpu: DIST } },
      build: { write: false, target: 'es2022', rollupOptions: { input: join(dir, 'main.js') } },
    })].flat();
    const chunks = output.output.filter((o) => o.type === 'chunk');
    const atStart = new Set();
    const visit = (name) => atStart.has(name) || (atStart.add(name), chunks.find((c) => c.fileName === name).imports.forEach(visit));
    chunks.filter((c) => c.isEntry).forEach((c) => visit(c.fileName));
    return chunks.map((c) => ({
      name: c.fileName,
      bytes: Buffer.byteLength(c.code),
      gzip: gzipSync(c.code).byteLength,
      protobuf: /protobuf|ModelProto/.test(c.code),
      loadedAtStart: atStart.has(c.fileName),
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const chunks = await bundleSafetensorsApp();
if (process.argv.includes('--json')) {
  console.log(JSON.stringify(chunks));
} else {
  const kB = (n) => `${(n / 1000).toFixed(1)} kB`.padStart(9);
  for (const c of chunks) console.log(`${c.name.padEnd(36)} ${kB(c.bytes)}  gzip ${kB(c.gzip)}  ${c.loadedAtStart ? 'loaded at start' : 'loaded on demand'}${c.protobuf ? ', holds protobuf (ONNX)' : ''}`);
  const start = chunks.filter((c) => c.loadedAtStart);
  console.log(`loaded at start: ${kB(start.reduce((n, c) => n + c.bytes, 0))}, gzip ${kB(start.reduce((n, c) => n + c.gzip, 0))}`);
}
