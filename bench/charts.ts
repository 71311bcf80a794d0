import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Result } from './measure.js';

/**
 * Per model: median latency and GFLOP/s against batch size, both axes logarithmic, a line per
 * contender that ran. Contenders skipped at every batch size are left out of the chart (the
 * table says why, once); the legend names the lines without the cursor's values, which would
 * read as placeholders ("--") until the pointer is over a chart.
 */
const METRICS = [
  ['medianMs', 'median latency (ms, log scale)'],
  ['gflops', 'GFLOP/s (log scale)'],
] as const;

/** `label` follows each title: "SwiftShader: a CPU" on a software adapter. Wrong outputs are not drawn. */
export function drawCharts(results: Result[], label?: string) {
  const host = document.querySelector('#charts')!;
  host.replaceChildren();
  for (const model of new Set(results.map((r) => r.model))) {
    const rows = results.filter((r) => r.model === model);
    const batches = [...new Set(rows.map((r) => r.batch))].sort((a, b) => a - b);
    const ran = [...new Set(rows.filter((r) => !r.skipped && !r.wrong).map((r) => r.contender))];
    const all = [...new Set(rows.map((r) => r.contender))];
    for (const [metric, axis] of METRICS) {
      const value = (n: string, b: number) => {
        const v = rows.find((r) => r.contender === n && r.batch === b && !r.skipped && !r.wrong)?.[metric];
        return v !== undefined && Number.isFinite(v) && v > 0 ? v : null; // a log scale has no place for 0
      };
      const data = [batches, ...ran.map((n) => batches.map((b) => value(n, b)))];
      const title = `${model}: ${axis.replace(/ \(.*/, '')}${label ? ` (${label})` : ''}`;
      // Tick labels to three significant digits: uPlot's default prints 0.0001 as "0" on a log axis.
      const values = (_: uPlot, ticks: (number | null)[]) => ticks.map((v) => (v === null ? '' : v.toLocaleString('en', { maximumSignificantDigits: 3 })));
      const axes = [{ label: 'batch size (rows, log scale)', values }, { label: axis, values }];
      const el = document.createElement('figure');
      // The chart is a canvas: this names what it plots for screen readers (and for the page test).
      el.setAttribute('aria-label', `${title}; x: ${axes[0]!.label}; y: ${axis}`);
      host.append(el);
      new uPlot(
        {
          title,
          width: 560,
          height: 300,
          legend: { live: false },
          scales: { x: { time: false, distr: 3 }, y: { distr: 3 } },
          axes,
          series: [
            { label: 'batch' },
            // Colours by the contender's place among all of them, so a line keeps its colour from model to model.
            ...ran.map((n) => ({ label: n, stroke: `hsl(${(all.indexOf(n) * 360) / all.length} 70% 45%)`, width: 2, points: { show: true } })),
          ],
        },
        data as uPlot.AlignedData,
        el,
      );
    }
  }
}
