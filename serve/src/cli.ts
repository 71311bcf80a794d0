import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { CliError, EXIT, intOption, parseCommand, shapeOption } from 'resgpu/cli';
import { buildApp, SERVE_DEFAULTS, type ServeOptions } from './app.js';
import { AuditLog } from './audit.js';
import { loadAll, parseModelArgs, type ModelArg } from './model-args.js';
import { replayCommand } from './replay.js';
import { IMAGE_DEFAULTS, IMAGENET_MEAN, IMAGENET_STD } from './v1/images.js';

export const SERVE_HELP = `Usage: resgpu serve MODEL... [options]
       resgpu-serve MODEL... [options]         (the same command, from the resgpu-serve package)

Serves each MODEL (a .pt/.pth, .safetensors or .onnx file, as a path or an http(s) URL) over
HTTP, and prints the URL once every model is loaded. MODEL may be NAME=PATH or
NAME@VERSION=PATH; otherwise its name is the file's without the extension (a.pt → a) and its
version 1. If any model fails to load, none is served: the error names each file, exit 3.

Open Inference Protocol (KServe v2), for every model:
  GET  /v2/health/live, /v2/health/ready, /v2 (server metadata)
  GET  /v2/models/NAME[/versions/V]          metadata: input [-1, features], output [-1, outputs]
  GET  /v2/models/NAME[/versions/V]/ready
  POST /v2/models/NAME[/versions/V]/infer    {"inputs": [{"name", "shape", "datatype", "data"}]};
                                             numbers of any width; the binary tensor data extension
resgpu's JSON API:
  POST /v1/predict   the first MODEL: {"inputs": [[...], ...]} → {"outputs": [[...], ...]}; rows may be
                     objects keyed by feature name ({"instances": [...]}) when the model names its
                     features, and the answer names each row's label when it has labels
  POST /v1/models/NAME/predict   the same, for any model
  GET  /healthz      200 once the models are loaded
  GET  /openapi.json the OpenAPI 3 document; GET /docs: Swagger UI
  GET  /metrics      Prometheus metrics, labelled by model
SIGTERM or SIGINT: stops accepting, answers every request already received, exits 0.

Options:
  --host HOST          interface to listen on (default 127.0.0.1; 0.0.0.0 for all)
  --port PORT          port (default 8080; 0 picks a free one)
  --backend NAME       passed to the engine as is (webgpu, wasm, cpu, ...); default: the engine's choice
  --input-shape C,H,W  the input row's shape, for image models whose file records none (a
                       torchvision ResNet's .pt state_dict); given to every MODEL
  --max-batch N        rows per coalesced model run (default ${SERVE_DEFAULTS.maxBatchRows}); each model batches apart
  --max-wait-us N      longest wait for a batch to fill, microseconds (default ${SERVE_DEFAULTS.maxWaitUs}:
                       no wait; requests arriving while a run is busy join the next one).
                       Node timers round it up to whole milliseconds
  --no-batching        one model run per request (still queued in the server: a request whose
                       client leaves before its turn is never run)
  --no-deterministic   let kernels vary with the batch size (faster on GPUs); by default a row's
                       answer is bitwise the same whatever else is in its batch
  --audit FILE         one JSON line per answer (time, model, fingerprint, backend, mode, request
                       id, input SHA-256, outputs) appended to FILE, or - for stdout
  --audit-inputs       with --audit, the input values too (needed to replay)
  --max-rows N         rows allowed per request (default ${SERVE_DEFAULTS.maxRows})
  --body-limit BYTES   request body size limit (default ${SERVE_DEFAULTS.bodyLimit}); larger bodies get 413
                       before they are read
  --image-mean A,B,C   per-channel mean for image uploads, for every image model (default: the
                       model file's own, recorded by the exporter's --image-mean or --imagenet;
                       for a file without one, torchvision's ImageNet ${IMAGENET_MEAN.join(',')} for
                       3 channels, 0.5 for 1); one value serves every channel
  --image-std A,B,C    per-channel std (default: the file's; else ${IMAGENET_STD.join(',')} for 3 channels, 0.5 for 1)
  --workers N          N processes sharing the port (Node cluster), each with its own copy of
                       the models; for CPU backends on a multi-core machine (default 1)
  -h, --help           this help

Images: a model whose input is [C, H, W] with C = 1 or 3 also takes PNG and JPEG images on
/v1/predict and /v1/models/NAME/predict: a multipart/form-data upload (field "image", one file
per row) or JSON {"images": ["<base64>", ...]}. Each image is decoded, then: for C = 3 its RGB
channels (alpha dropped; grayscale refused), for C = 1 its luminance (0.299 R + 0.587 G +
0.114 B); scaled to [0, 1]; resized to H×W with antialiased bilinear interpolation (torchvision's
Resize((H, W), antialias=True) on a float tensor); normalized as (x - mean) / std per channel,
with the flags' mean and std, else the model file's (its manifest's "preprocess"), else the defaults.
Images over ${IMAGE_DEFAULTS.maxPixels / 1e6} megapixels (from the header, before decoding), more than ${IMAGE_DEFAULTS.maxImages} per
request, or files over ${IMAGE_DEFAULTS.maxFileBytes >> 20} MiB are refused with a 4xx JSON body.

Exit codes: 0 after a drain on SIGTERM, 2 usage, 3 a model could not be loaded, 5 missing
environment (WebGPU asked for and absent), 6 cannot listen.`;

interface ServeConfig {
  models: ModelArg[];
  host: string;
  port: number;
  backend: string | undefined;
  inputShape: number[] | undefined;
  deterministic: boolean;
  audit: { path: string; inputs: boolean } | null;
  workers: number;
  options: ServeOptions;
}

/** The package's version, for GET /v2 (package.json is one level up from src/ and from dist/). */
const VERSION = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

export async function serveCommand(argv: string[], out: (s: string) => void): Promise<number> {
  if (argv[0] === 'replay') return replayCommand(argv.slice(1), out);
  const config = parseServeArgs(argv);
  if (!config) return out(SERVE_HELP), 0;
  if (config.workers > 1 && cluster.isPrimary) return runPrimary(config, out);
  return runServer(config, out);
}

function parseServeArgs(argv: string[]): ServeConfig | null {
  const { values, positionals: args } = parseCommand('serve', argv, {
    host: { type: 'string' },
    port: { type: 'string', short: 'p' },
    backend: { type: 'string' },
    'input-shape': { type: 'string' },
    'max-batch': { type: 'string' },
    'max-wait-us': { type: 'string' },
    'no-batching': { type: 'boolean' },
    'no-deterministic': { type: 'boolean' },
    audit: { type: 'string' },
    'audit-inputs': { type: 'boolean' },
    'max-rows': { type: 'string' },
    'body-limit': { type: 'string' },
    workers: { type: 'string' },
    'image-mean': { type: 'string' },
    'image-std': { type: 'string' },
  });
  if (values.help) return null;
  const models = parseModelArgs('serve', args);
  const int = (name: keyof typeof values, min: number, max?: number) => intOption('serve', name, values[name] as string | undefined, min, max);
  return {
    models,
    host: values.host ?? '127.0.0.1',
    port: int('port', 0, 65535) ?? 8080,
    backend: values.backend,
    inputShape: shapeOption('serve', values['input-shape']),
    deterministic: !values['no-deterministic'],
    audit: values.audit === undefined ? null : { path: values.audit, inputs: values['audit-inputs'] === true },
    workers: int('workers', 1, 256) ?? 1,
    options: {
      batching: !values['no-batching'],
      maxBatchRows: int('max-batch', 1),
      maxWaitUs: int('max-wait-us', 0, 10_000_000),
      maxRows: int('max-rows', 1),
      bodyLimit: int('body-limit', 64),
      version: VERSION,
      images: { mean: numberList('image-mean', values['image-mean']), std: numberList('image-std', values['image-std']) },
    },
  };
}

/** "a,b,c" as finite numbers (std: positive), or undefined when the flag is absent. */
function numberList(flag: string, text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const values = text.split(',').map((t) => Number(t.trim()));
  const bad = values.some((v, i) => text.split(',')[i]!.trim() === '' || !Number.isFinite(v) || (flag === 'image-std' && v <= 0));
  if (bad || values.length === 0) {
    throw new CliError(EXIT.usage, `resgpu serve: --${flag} wants comma-separated ${flag === 'image-std' ? 'positive ' : ''}numbers, e.g. 0.5,0.5,0.5; got ${JSON.stringify(text)}\nSee: resgpu serve --help`);
  }
  return values;
}

/** One server process: load every model, listen, print the URL, then serve until SIGTERM/SIGINT. */
async function runServer(config: ServeConfig, out: (s: string) => void): Promise<number> {
  const sources = await loadAll(config.models, config.backend, config.deterministic, config.inputShape);
  const worker = cluster.isWorker ? cluster.worker : undefined;
  const audit = config.audit ? AuditLog.open(config.audit.path, config.audit.inputs) : undefined;
  const app = await buildApp(sources, { ...config.options, audit, ...(worker && { metricLabels: { worker: String(worker.id) } }) });
  let url: string;
  try {
    url = await app.listen({ host: config.host, port: config.port });
  } catch (e) {
    await Promise.all(sources.map((s) => s.model.dispose()));
    throw new CliError(EXIT.failed, `Cannot listen on ${config.host}:${config.port}: ${(e as Error).message}`);
  }
  const models = sources.map((s) => `${s.file} as ${s.name}${s.version === '1' ? '' : `@${s.version}`} (${s.model.inputSize} → ${s.model.outputSize}, backend ${s.model.backend})`);
  const ready = `resgpu: serving ${models.join(', ')} at ${url}  (docs: ${url}/docs)`;
  if (worker) process.send!({ type: 'ready', url, line: ready });
  else out(ready);
  await untilSignal();
  await shutdown(app);
  await audit?.close();
  const { received, answered, abandoned } = app.requestCounts;
  const drained = `resgpu: stopped; answered ${answered} of the ${received} requests received${abandoned ? ` (${abandoned} given up by their clients)` : ''}`;
  if (worker) process.stderr.write(`${drained} (worker ${worker.id})\n`);
  else out(drained);
  await Promise.all(sources.map((s) => s.model.dispose()));
  return EXIT.ok;
}

/**
 * Fastify's close() stops accepting connections, answers 503 to requests arriving on kept-alive
 * connections meanwhile, and resolves once every request already received has its answer; the
 * batcher keeps running until then, so no queued request is dropped. Node closes the idle
 * kept-alive connections at once: a request a client was sending on one just then was never
 * received, and its client sees the connection close (HTTP/1.1's keep-alive race; a load
 * balancer retries it elsewhere, and Kubernetes stops routing to a pod before it signals it).
 */
async function shutdown(app: FastifyInstance): Promise<void> {
  await app.close();
}

/**
 * The first SIGTERM or SIGINT; later ones are ignored, so that a drain under way is not cut
 * short (under --workers, Ctrl-C reaches a worker both from the terminal and from the primary).
 */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.on('SIGTERM', resolve);
    process.on('SIGINT', resolve);
  });
}

/** --workers N: forks N servers sharing the port; forwards SIGTERM to them and exits once all have. */
async function runPrimary(config: ServeConfig, out: (s: string) => void): Promise<number> {
  let stopping = false;
  let announced = false;
  let startFailure: number | undefined;
  let ready = 0;
  const fork = () => {
    const worker = cluster.fork();
    worker.on('message', (m: { type?: string; url?: string; line?: string }) => {
      if (m.type === 'ready' && ++ready === config.workers && !announced) {
        announced = true;
        out(`${m.line} with ${config.workers} workers`);
      }
    });
  };
  for (let i = 0; i < config.workers; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    // A worker that dies on its own is replaced; one that cannot start (bad model, port taken) stops everything.
    if (!announced) {
      stopping = true;
      startFailure = code ?? EXIT.failed;
      for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
      return;
    }
    process.stderr.write(`resgpu: worker ${worker.id} exited (${signal ?? code}); starting another\n`);
    ready--;
    fork();
  });
  const signal = await Promise.race([untilSignal(), allExited()]);
  stopping = true;
  for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
  await allExited();
  return signal ? EXIT.ok : startFailure ?? EXIT.failed;
}

/** Resolves (with undefined) once no worker is left. */
function allExited(): Promise<undefined> {
  return new Promise((resolve) => {
    const check = () => {
      if (Object.keys(cluster.workers ?? {}).length > 0) return;
      cluster.off('exit', check);
      resolve(undefined);
    };
    cluster.on('exit', check);
    check(); // maybe they are gone already
  });
}
