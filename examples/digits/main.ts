import { imageToInput, loadModel, type Model, type ModelDescription } from 'resgpu';
import { drawingPad, framedDrawing } from './pad.js';

/**
 * The digits page: draw a digit, see the network's ten class probabilities. The model is the
 * residual CNN train.py fits to scikit-learn's 8×8 digits; `backend: 'auto'` (WebGPU on a hardware
 * adapter, WebAssembly otherwise) unless the page's `?backend=` says which. The tests drive it
 * through window.digits (test/chrome-digits.test.ts).
 */
interface Meta {
  model: string;
  mean: number[];
  std: number[];
  labels: string[];
  pixel_scale: number;
  test_accuracy: number;
}
interface Prediction {
  probabilities: number[];
  logits: number[];
  label: string;
}
declare global {
  interface Window {
    digits: {
      ready: boolean;
      error: string | null;
      description: ModelDescription | null;
      why: string;
      /** Classifies what is on the pad now (null when it is empty), and shows it. */
      classifyPad(): Promise<Prediction | null>;
      /** Data set images, 64 pixels of 0..16 each, preprocessed as train.py does. */
      classifyPixels(images: number[][]): Promise<Prediction[]>;
    };
  }
}

const meta: Meta = await (await fetch('model/digits.meta.json')).json();
const $ = <T extends HTMLElement>(s: string) => document.querySelector<T>(s)!;
const pad = $<HTMLCanvasElement>('#pad');
const seen = $<HTMLCanvasElement>('#seen');
const bars = meta.labels.map((label) => {
  const row = [label, 'bar', 'value'].map((c) => Object.assign(document.createElement('div'), { className: c === label ? 'label' : c }));
  row[0]!.textContent = label;
  row[1]!.append(document.createElement('div'));
  $('#bars').append(...row);
  return row;
});

let model: Model | null = null;
const state: Window['digits'] = { ready: false, error: null, description: null, why: '', classifyPad, classifyPixels };
window.digits = state;

async function predict(x: Float32Array): Promise<Prediction[]> {
  const y = await model!.run(x);
  const k = meta.labels.length;
  return Array.from({ length: y.length / k }, (_, i) => {
    const logits = Array.from(y.subarray(i * k, (i + 1) * k));
    const top = Math.max(...logits);
    const e = logits.map((v) => Math.exp(v - top));
    const sum = e.reduce((a, b) => a + b, 0);
    const probabilities = e.map((v) => v / sum);
    return { logits, probabilities, label: meta.labels[probabilities.indexOf(Math.max(...probabilities))]! };
  });
}

async function classifyPixels(images: number[][]): Promise<Prediction[]> {
  const x = Float32Array.from(images.flat(), (p) => (p / meta.pixel_scale - meta.mean[0]!) / meta.std[0]!);
  return predict(x);
}

/** Bumped by Clear: a run started before it must not show its result after it. */
let drawingNumber = 0;

async function classifyPad(): Promise<Prediction | null> {
  const framed = framedDrawing(pad);
  if (!framed || !model) return show(null, null);
  const x = imageToInput(framed, { model, normalize: { mean: meta.mean, std: meta.std } });
  const started = drawingNumber;
  const p = (await predict(x))[0]!;
  return started === drawingNumber ? show(p, x) : null;
}

function show(p: Prediction | null, x: Float32Array | null): Prediction | null {
  bars.forEach(([label, bar, value], i) => {
    const v = p?.probabilities[i] ?? 0;
    (bar!.firstChild as HTMLElement).style.width = `${(100 * v).toFixed(1)}%`;
    value!.textContent = p ? v.toFixed(3) : '';
    for (const cell of [label, bar, value]) cell!.classList.toggle('top', p?.label === meta.labels[i]);
  });
  $('#prediction').textContent = p ? `Prediction: ${p.label}` : 'Draw a digit (0–9) on the black pad.';
  const pixels = seen.getContext('2d')!.createImageData(8, 8);
  for (let i = 0; i < 64; i++) {
    const v = x ? Math.round(255 * (x[i]! * meta.std[0]! + meta.mean[0]!)) : 0;
    pixels.data.set([v, v, v, 255], i * 4);
  }
  seen.getContext('2d')!.putImageData(pixels, 0, 0);
  return p;
}

/** One run at a time while a stroke grows; the last change is always classified. */
let running = false;
let again = false;
async function changed() {
  if (running) return void (again = true);
  running = true;
  do {
    again = false;
    await classifyPad();
  } while (again);
  running = false;
}
const drawing = drawingPad(pad, () => void (model && changed()));
$('#clear').addEventListener('click', () => {
  drawingNumber++;
  drawing.clear();
  show(null, null);
});
show(null, null);

/** Why the model runs where it does, in words. */
async function whyHere(d: ModelDescription, forced: string | null): Promise<string> {
  const where = d.backend === 'webgpu' ? `WebGPU (${d.adapter?.vendor} ${d.adapter?.architecture}${d.adapter?.software ? ', a software adapter: a CPU' : ''})` : d.backend === 'wasm' ? 'WebAssembly SIMD on the CPU' : 'the float64 CPU reference';
  if (forced) return `Running on ${where}: forced by ?backend=${forced}.`;
  if (d.backend === 'webgpu') return `Running on ${where}: backend 'auto' found a hardware WebGPU adapter.`;
  const adapter = await navigator.gpu?.requestAdapter().catch(() => null);
  const reason = adapter ? `the WebGPU adapter (${adapter.info.vendor} ${adapter.info.architecture}) is a software one, on the very CPU WebAssembly runs on, and slower there` : 'this browser offers no WebGPU adapter';
  return `Running on ${where}: backend 'auto' chose it because ${reason}.`;
}

const forced = new URLSearchParams(location.search).get('backend');
try {
  model = await loadModel(`model/${meta.model}`, { backend: (forced ?? 'auto') as 'auto' });
  state.description = model.describe();
  state.why = await whyHere(state.description, forced);
  $('#backend').textContent = `${state.why} Test accuracy in PyTorch: ${(100 * meta.test_accuracy).toFixed(1)} % of the held-out digits.`;
  state.ready = true;
} catch (e) {
  const err = e as Error;
  state.error = `${err.name}: ${err.message}`;
  $('#backend').textContent = `The model did not load (backend ${forced ?? 'auto'}).`;
  Object.assign($('#error'), { hidden: false, textContent: state.error });
}
