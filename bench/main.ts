import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { CONTENDERS, presetFiles, type ModelFiles } from './contenders.js';
import { runBenchmark, type BenchOptions, type Result } from './measure.js';

/**
 * The benchmark page. A person runs it from the form; bench/run.mjs calls
 * window.runBenchmark(...) in headless Chromium and reads the same results.
 */
declare global {
  interface Window {
    runBenchmark(
      o: Partial<Omit<BenchOptions, 'contenders' | 'models'>> & { models?: (string | ModelFiles)[]; contenders?: string[] },
    ): Promise<{ adapter: unknown; results: Result[] }>;
    benchReady: boolean;
  }
}

const fmt = (v: number, digits = 3) => (Number.isFinite(v) ? v.toPrecision(digits) : '–');
const tbody = document.querySelector('#results tbody')!;
const status = document.querySelector('#status')!;

async function describeAdapter() {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) return { error: 'no WebGPU adapter' };
  const { vendor, architecture, description } = adapter.info;
  const limits = Object.fromEntries(
    ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup'].map((k) => [k, adapter.limits[k as keyof GPUSupportedLimits]]),
  );
  return { vendor, architecture, description, features: [...adapter.features].sort(), limits };
}

function addRow(r: Result) {
  const tr = document.createElement('tr');
  const cells = r.skipped
    ? [r.model, r.contender, String(r.batch), `skipped: ${r.skipped}`]
    : [r.model, r.contender, String(r.batch), fmt(r.medianMs), fmt(r.p90Ms), `${fmt(r.minMs)}–${fmt(r.maxMs)}`,
       fmt(r.samplesPerSecond, 4), fmt(r.gflops), fmt(r.firstResultMs, 4), fmt(r.gpuMedianMs), r.maxError.toExponential(1)];
  for (const c of cells) tr.insertAdjacentHTML('beforeend', `<td${r.skipped && c.startsWith('skipped') ? ' colspan="8"' : ''}></td>`), (tr.lastElementChild!.textContent = c);
  tbody.append(tr);
}

/** Per model: latency against batch size and GFLOP/s against batch size, a line per contender. */
function drawCharts(results: Result[]) {
  const host = document.querySelector('#charts')!;
  host.replaceChildren();
  for (const model of new Set(results.map((r) => r.model))) {
    const rows = results.filter((r) => r.model === model);
    const batches = [...new Set(rows.map((r) => r.batch))].sort((a, b) => a - b);
    const names = [...new Set(rows.map((r) => r.contender))];
    for (const [metric, label] of [['medianMs', 'median latency, ms'], ['gflops', 'GFLOP/s']] as const) {
      const data = [batches, ...names.map((n) => batches.map((b) => rows.find((r) => r.contender === n && r.batch === b)?.[metric] ?? null))];
      const el = document.createElement('div');
      host.append(el);
      new uPlot(
        {
          title: `${model}: ${label}`,
          width: 560,
          height: 300,
          scales: { x: { time: false, distr: 3 }, y: { distr: 3 } },
          axes: [{ label: 'batch' }, { label }],
          series: [{ label: 'batch' }, ...names.map((n, i) => ({ label: n, stroke: `hsl(${(i * 360) / names.length} 70% 45%)`, width: 2, points: { show: true } }))],
        },
        data as uPlot.AlignedData,
        el,
      );
    }
  }
}

window.runBenchmark = async (o) => {
  const adapter = await describeAdapter();
  document.querySelector('#adapter')!.textContent = `Adapter: ${JSON.stringify(adapter, null, 1)}`;
  tbody.replaceChildren();
  const results = await runBenchmark({
    models: (o.models ?? ['tabular', 'small']).map((m) => (typeof m === 'string' ? presetFiles(m) : m)),
    batches: o.batches ?? [1, 16, 256, 1024],
    iterations: o.iterations ?? 20,
    warmup: o.warmup ?? 3,
    cpuFlopLimit: o.cpuFlopLimit ?? 2e9,
    // Contenders whose name contains one of the given strings (all by default).
    contenders: o.contenders ? CONTENDERS.filter((c) => o.contenders!.some((n) => c.name.includes(n))) : CONTENDERS.filter((c) => !c.optional),
    onResult: (r) => {
      addRow(r);
      status.textContent = `${r.model} · ${r.contender} · batch ${r.batch} done`;
    },
  });
  drawCharts(results);
  status.textContent = 'done';
  return { adapter, results };
};

const form = document.querySelector<HTMLFormElement>('#form')!;
const dropped: ModelFiles[] = [];
/** A model file dropped on the page (or picked): resgpu and its CPU reference run it; the peers need their own formats. */
function addFiles(files: FileList | null) {
  for (const file of Array.from(files ?? [])) dropped.push({ name: file.name, resgpu: URL.createObjectURL(file) });
  document.querySelector('#dropped')!.textContent = dropped.map((d) => d.name).join(', ');
}
document.querySelector<HTMLInputElement>('#file')!.addEventListener('change', (e) => addFiles((e.target as HTMLInputElement).files));
document.body.addEventListener('dragover', (e) => e.preventDefault());
document.body.addEventListener('drop', (e) => {
  e.preventDefault();
  addFiles(e.dataTransfer?.files ?? null);
});

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const data = new FormData(form);
  void window.runBenchmark({
    models: [...data.getAll('model').map(String), ...dropped],
    batches: String(data.get('batches')).split(',').map(Number).filter((b) => b >= 1),
    iterations: Number(data.get('iterations')),
    warmup: Number(data.get('warmup')),
  });
});
void describeAdapter().then((a) => (document.querySelector('#adapter')!.textContent = `Adapter: ${JSON.stringify(a, null, 1)}`));
window.benchReady = true;
