// Serves the benchmark page with Vite: `npm run bench:serve`, then open the printed URL in Chrome.
// Makes the preset models with real PyTorch first (bench/make_model.py) when they are missing,
// serves them under /models/ and onnxruntime-web's WASM under /ort/, with the cross-origin
// isolation headers that threaded WASM needs.
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPageServer } from '../tools/page-server.mjs';
import { watPlugin } from '../tools/vite-plugin-wat.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
export const MODELS_DIR = join(HERE, 'models');
/** The seed's ResidualMLP presets, then issue 16's families at benchmark sizes (make_model.py). */
export const PRESETS = ['tabular', 'small', 'medium', 'large', 'breast_cancer'];
export const FAMILY_PRESETS = ['rtdl', 'widedeep', 'gelu_ln', 'gelu_tanh_ln', 'silu_ln'];
/** torchvision ResNets with random weights (make_model.py's IMAGE_PRESETS); made on demand, not by default. */
export const IMAGE_PRESETS = ['resnet18', 'resnet50', 'resnet18_64'];

export function makeModels(presets = [...PRESETS, ...FAMILY_PRESETS]) {
  mkdirSync(MODELS_DIR, { recursive: true });
  for (const preset of presets) {
    // meta.json is written last: a folder from before it existed is remade, which the fixed seeds make identical.
    if (existsSync(join(MODELS_DIR, `${preset}.meta.json`))) continue;
    console.error(`bench: making the ${preset} model with PyTorch`);
    execFileSync('/usr/bin/python3', [join(HERE, 'make_model.py'), preset, join(MODELS_DIR, preset)], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
}

/**
 * A preset's meta.json: the file resgpu loads (`resgpu`), the ONNX file, whether TensorFlow.js's
 * folded layers exist (`folded`), `input_size`, `output_size` and `flops_per_row`.
 */
export const readMeta = (preset) => JSON.parse(readFileSync(join(MODELS_DIR, `${preset}.meta.json`), 'utf8'));

const TYPES = { '.wasm': 'application/wasm', '.mjs': 'text/javascript', '.js': 'text/javascript' };

/** Serves files of `dir` under `prefix`, nothing outside it. */
function staticDir(prefix, dir) {
  return (req, res, next) => {
    const path = decodeURIComponent((req.url ?? '').split('?')[0]);
    if (!path.startsWith(prefix)) return next();
    const file = normalize(join(dir, path.slice(prefix.length)));
    if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) return next();
    res.setHeader('Content-Type', TYPES[extname(file)] ?? 'application/octet-stream');
    res.setHeader('Content-Length', statSync(file).size);
    // These middlewares answer before Vite's, which adds the page's isolation headers: a worker
    // started from here (onnxruntime-web's threads) needs them too, or it is not cross-origin
    // isolated and cannot share the page's memory.
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    createReadStream(file).pipe(res);
  };
}

export async function startBenchServer({ port = 0, host = '127.0.0.1' } = {}) {
  return startPageServer({
    root: HERE,
    port,
    host,
    // onnxruntime-web finds its WASM through env.wasm.wasmPaths, not through the bundler.
    // Dependencies are bundled before the page opens, so Vite never reloads it to add one.
    optimizeDeps: { entries: ['index.html'], include: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu', 'uplot'], exclude: ['onnxruntime-web'] },
    plugins: [
      watPlugin(), // the page imports resgpu's sources, WebAssembly text included
      {
        name: 'resgpu-bench-files',
        configureServer(s) {
          s.middlewares.use(staticDir('/models/', MODELS_DIR));
          s.middlewares.use(staticDir('/ort/', join(ROOT, 'node_modules/onnxruntime-web/dist')));
        },
      },
    ],
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  makeModels();
  const server = await startBenchServer({ port: Number(process.env.PORT ?? 5174), host: process.env.HOST ?? '127.0.0.1' });
  // Vite prints its URLs at log level 'info', which this server runs below: say it here.
  console.log(`resgpu benchmark: ${server.resolvedUrls.local[0]}  (open it in Chrome or Edge; Ctrl-C stops the server)`);
}
