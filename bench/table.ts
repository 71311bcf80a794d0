import type { Result } from './measure.js';

/**
 * The results table. A contender skipped for the same reason at several batch sizes gets one
 * row per model (its batch sizes listed together), not one identical row per batch.
 */
const fmt = (v: number, digits = 3) => (Number.isFinite(v) ? v.toPrecision(digits) : '–');
const tbody = () => document.querySelector('#results tbody')!;
const skippedRows = new Map<string, { batches: number[]; cell: HTMLElement }>();

export function clearTable() {
  tbody().replaceChildren();
  skippedRows.clear();
}

function cells(tr: HTMLTableRowElement, values: string[]) {
  for (const v of values) tr.insertCell().textContent = v;
}

export function addResultRow(r: Result) {
  const tr = document.createElement('tr');
  if (r.skipped) {
    const key = JSON.stringify([r.model, r.contender, r.skipped]);
    const seen = skippedRows.get(key);
    if (seen) {
      seen.batches.push(r.batch);
      seen.cell.textContent = seen.batches.join(', ');
      return;
    }
    cells(tr, [r.model, r.contender, String(r.batch)]);
    const reason = tr.insertCell();
    reason.colSpan = 8;
    reason.className = 'skipped';
    reason.textContent = `skipped: ${r.skipped}`;
    skippedRows.set(key, { batches: [r.batch], cell: tr.cells[2]! });
  } else {
    // A wrong output is shown as such beside its time, never as a plain figure.
    const error = Number.isFinite(r.maxError) ? r.maxError.toExponential(1) : '–';
    cells(tr, [r.model, r.contender, String(r.batch), fmt(r.medianMs), fmt(r.p90Ms), `${fmt(r.minMs)}–${fmt(r.maxMs)}`,
      fmt(r.samplesPerSecond, 4), fmt(r.gflops), fmt(r.firstResultMs, 4), fmt(r.gpuMedianMs),
      `${r.wrong ? 'WRONG OUTPUT: ' : ''}${error}${r.checkedAgainst === 'median of contenders' ? ' (vs median)' : ''}`]);
    if (r.wrong) tr.className = 'wrong';
  }
  tbody().append(tr);
}
