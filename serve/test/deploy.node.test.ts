import { spawn, execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { BREAST_CANCER, expectClose, ROOT } from './helpers.js';
import { infer } from './oip-client.js';

/**
 * docs/deploy without Docker or a cluster: the manifests parse and agree, and the exact command
 * and arguments the Dockerfile's ENTRYPOINT/CMD and the ServingRuntime's container run start the
 * server here. Only what cannot exist here is mapped: the container's paths to local files (the
 * installed bin to serve/bin, model paths to the files the Dockerfile copies or KServe would
 * download), and port 8080 to a free one. The server must then pass the protocol's health
 * checks and infer PyTorch's outputs.
 */
const DEPLOY = resolve(ROOT, 'docs/deploy');
const INSTALLED_BIN = '/app/node_modules/.bin/resgpu-serve';

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function dockerfile(): { op: string; args: string }[] {
  const text = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  return text.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#')).map((l) => {
    const [, op, args] = /^\s*(\S+)\s+(.*)$/.exec(l)!;
    return { op: op!.toUpperCase(), args: args!.trim() };
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as { port: number };
  await new Promise((ok) => server.close(ok));
  return port;
}

/** Runs [command, ...args] as the container would (command mapped to the local bin); resolves when it listens. */
async function start(argv: string[], port: number) {
  expect(argv[0]).toBe(INSTALLED_BIN);
  const child = spawn(process.execPath, [resolve(ROOT, 'serve/bin/resgpu-serve.mjs'), ...argv.slice(1)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((ok) => child.on('exit', ok));
  await new Promise<void>((ok, fail) => {
    child.stdout!.on('data', (d) => String(d).includes('serving') && ok());
    void exited.then((code) => fail(new Error(`exited ${code}: ${err}`)));
  });
  return { url: `http://127.0.0.1:${port}`, stop: async () => (child.kill('SIGTERM'), exited) };
}

/** --port 8080 → a free port: the only argument changed. */
function withPort(args: string[], port: number): string[] {
  const i = args.indexOf('--port');
  expect(args[i + 1]).toBe('8080');
  return args.map((a, j) => (j === i + 1 ? String(port) : a));
}

test('the Dockerfile: small Node base images, non-root, a health check on /v2/health/ready; its ENTRYPOINT and CMD serve the baked-in model', async () => {
  const lines = dockerfile();
  const from = lines.filter((l) => l.op === 'FROM').map((l) => l.args.split(' ')[0]);
  expect(from.every((image) => /^node:\d+-alpine$/.test(image!))).toBe(true);
  const final = lines.slice(lines.map((l) => l.op).lastIndexOf('FROM'));
  const user = final.find((l) => l.op === 'USER')?.args;
  expect(user && user !== 'root' && user !== '0').toBe(true);
  expect(final.find((l) => l.op === 'EXPOSE')?.args).toBe('8080');
  const json = (op: string) => JSON.parse(final.find((l) => l.op === op)!.args) as string[];
  const healthcheck = final.find((l) => l.op === 'HEALTHCHECK')!.args;
  const probe = JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD ') + 4)) as string[];
  expect(probe.join(' ')).toContain('http://127.0.0.1:8080/v2/health/ready');
  // COPY examples/breast_cancer.pt /models/breast_cancer.pt: the model the CMD names.
  const copies = new Map(final.filter((l) => l.op === 'COPY' && !l.args.startsWith('--from')).map((l) => l.args.split(' ').reverse() as [string, string]));
  const port = await freePort();
  const argv = withPort([...json('ENTRYPOINT'), ...json('CMD')], port).map((a) => (copies.has(a) ? resolve(ROOT, copies.get(a)!) : a));
  const server = await start(argv, port);
  try {
    expect((await fetch(`${server.url}/v2/health/live`)).status).toBe(200);
    const [node, ...probeArgs] = probe.map((a) => a.replace(':8080/', `:${port}/`));
    expect(node).toBe('node');
    await promisify(execFile)(process.execPath, probeArgs); // rejects on a non-zero exit
    const r = await infer(server.url, 'breast_cancer', { name: 'input', rows: BREAST_CANCER.inputs.slice(0, 4), datatype: 'FP32' });
    expectClose(r.outputs, BREAST_CANCER.torch_logits.slice(0, 4).flat());
  } finally {
    expect(await server.stop()).toBe(0);
  }
});

test('the KServe manifests: a v2 ServingRuntime and an InferenceService on it; the runtime\'s command serves the model under the service\'s name', async () => {
  const docs = parseAllDocuments(readFileSync(join(DEPLOY, 'kserve.yaml'), 'utf8')).map((d) => {
    expect(d.errors).toEqual([]);
    return d.toJS() as any;
  });
  const runtime = docs.find((d) => d.kind === 'ServingRuntime');
  const service = docs.find((d) => d.kind === 'InferenceService');
  expect(runtime.apiVersion).toBe('serving.kserve.io/v1alpha1');
  expect(service.apiVersion).toBe('serving.kserve.io/v1beta1');
  expect(runtime.spec.protocolVersions).toContain('v2');
  const model = service.spec.predictor.model;
  expect(model.protocolVersion).toBe('v2');
  expect(model.runtime).toBe(runtime.metadata.name);
  expect(runtime.spec.supportedModelFormats.map((f: { name: string }) => f.name)).toContain(model.modelFormat.name);
  const container = runtime.spec.containers[0];
  expect(container.name).toBe('kserve-container');
  // What KServe's storage initializer would have put in /mnt/models.
  const mnt = mkdtempSync(join(tmpdir(), 'resgpu-kserve-'));
  mkdirSync(join(mnt, 'models'));
  copyFileSync(join(ROOT, 'examples/breast_cancer.pt'), join(mnt, 'models/model.pt'));
  const port = await freePort();
  const argv = withPort([...container.command, ...container.args], port).map((a: string) =>
    a.replace('{{.Name}}', service.metadata.name).replace('/mnt/models/', `${mnt}/models/`),
  );
  const server = await start(argv, port);
  try {
    for (const probe of [container.readinessProbe, container.livenessProbe]) {
      expect(probe.httpGet.port).toBe(8080);
      expect((await fetch(`${server.url}${probe.httpGet.path}`)).status).toBe(200);
    }
    expect(runtime.spec.annotations['prometheus.kserve.io/path']).toBe('/metrics');
    expect(await (await fetch(`${server.url}/metrics`)).text()).toContain(`model="${service.metadata.name}"`);
    const r = await infer(server.url, service.metadata.name, { name: 'input', rows: BREAST_CANCER.inputs.slice(0, 4), datatype: 'FP32', binary: true });
    expect(r.json.model_name).toBe(service.metadata.name);
    expectClose(r.outputs, BREAST_CANCER.torch_logits.slice(0, 4).flat());
  } finally {
    expect(await server.stop()).toBe(0);
  }
});
