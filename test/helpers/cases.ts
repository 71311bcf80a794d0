import type { ModelConfig } from './random-model.js';

/**
 * Model cases run on every backend and in every environment (Node/Dawn and headless Chrome),
 * each compared with the CPU reference.
 */
export interface ModelCase {
  name: string;
  config: ModelConfig;
  batches: number[];
}

export const MODEL_CASES: ModelCase[] = [
  {
    name: 'identity blocks, no BatchNorm',
    config: { input: 32, blocks: [{ hidden: 64 }, { hidden: 48 }], head: { out: 10 } },
    batches: [1, 4],
  },
  {
    name: 'identity blocks with BatchNorm',
    config: { input: 30, blocks: [{ hidden: 64, bn: true }, { hidden: 64, bn: true }, { hidden: 64, bn: true }, { hidden: 64, bn: true }], head: { out: 2 }, seed: 2 },
    batches: [1, 5, 64],
  },
  {
    name: 'projection blocks with BatchNorm, odd sizes (in 37, hidden 200, out 3)',
    config: { input: 37, blocks: [{ hidden: 200, out: 64, bn: true }, { hidden: 64, bn: true }, { hidden: 200, out: 3, bn: true }], seed: 3 },
    batches: [1, 3, 37],
  },
  {
    name: 'projection without BatchNorm on equal widths, BN-less shortcut',
    config: { input: 24, blocks: [{ hidden: 40, projection: true }, { hidden: 33, out: 17, bn: true, shortcutBn: false }], head: { out: 5, bn: true, activation: 'relu' }, seed: 4 },
    batches: [2, 255],
  },
  {
    name: 'eight blocks, widths changing, with a stem',
    config: {
      input: 20,
      stem: { out: 48, bn: true, activation: 'relu' },
      blocks: [
        { hidden: 96, bn: true }, { hidden: 64, out: 32, bn: true }, { hidden: 32, bn: true }, { hidden: 80, out: 72, bn: true },
        { hidden: 72 }, { hidden: 40, out: 40, bn: true }, { hidden: 9, out: 13, bn: true }, { hidden: 13, bn: true },
      ],
      head: { out: 7 },
      seed: 5,
    },
    batches: [1, 513],
  },
  {
    name: 'one feature wide',
    config: { input: 1, blocks: [{ hidden: 1, bn: true }], head: { out: 1, bn: true, activation: 'relu' }, seed: 6 },
    batches: [1, 7],
  },
  { name: 'float64 weights', config: { input: 12, blocks: [{ hidden: 20, out: 8, bn: true }], head: { out: 3 }, dtype: 'F64', seed: 7 }, batches: [3] },
  { name: 'float16 weights', config: { input: 12, blocks: [{ hidden: 20, out: 8, bn: true }], head: { out: 3 }, dtype: 'F16', seed: 8 }, batches: [3] },
  { name: 'bfloat16 weights', config: { input: 12, blocks: [{ hidden: 20, out: 8, bn: true }], head: { out: 3 }, dtype: 'BF16', seed: 9 }, batches: [3] },
];
