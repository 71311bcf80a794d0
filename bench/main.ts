import { adapterReport, showAdapter, type AdapterReport } from './adapter.js';
import { drawCharts } from './charts.js';
import { CONTENDERS, presetFiles, type ModelFiles } from './contenders.js';
import { runBenchmark, type BenchOptions, type Result } from './measure.js';
import { addResultRow, clearTable } from './table.js';

/**
 * The benchmark page. A person runs it from the form; bench/run.mjs calls
 * window.runBenchmark(...) in headless Chromium and reads the same results.
 */
declare global {
  interface Window {
    runBenchmark(
      o: Partial<Omit<BenchOptions, 'contenders' | 'models'>> & { models?: (string | ModelFiles)[]; contenders?: string[] },
    ): Promise<{ adapter: AdapterReport; results: Result[] }>;
    benchReady: boolean;
  }
}

const status = document.querySelector('#status')!;

window.runBenchmark = async (o) => {
  const adapter = await adapterReport();
  showAdapter(adapter);
  clearTable();
  const results = await runBenchmark({
    models: await Promise.all((o.models ?? ['tabular', 'small']).map((m) => (typeof m === 'string' ? presetFiles(m) : m))),
    batches: o.batches ?? [1, 16, 256, 1024],
    iterations: o.iterations ?? 20,
    warmup: o.warmup ?? 3,
    cpuFlopLimit: o.cpuFlopLimit ?? 2e9,
    ...(o.budgetMs ? { budgetMs: o.budgetMs } : {}),
    // Contenders whose name contains one of the given strings (all by default).
    contenders: o.contenders ? CONTENDERS.filter((c) => o.contenders!.some((n) => c.name.includes(n))) : CONTENDERS.filter((c) => !c.optional),
    onResult: (r) => {
      addResultRow(r);
      status.textContent = `${r.model} · ${r.contender} · batch ${r.batch} done`;
    },
  });
  drawCharts(results, adapter.software ? 'SwiftShader: a CPU' : undefined);
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
    ...(Number(data.get('budget')) > 0 ? { budgetMs: Number(data.get('budget')) * 1000 } : {}),
  });
});
void adapterReport().then(showAdapter);
window.benchReady = true;
