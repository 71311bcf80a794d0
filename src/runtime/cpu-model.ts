import { DisposedError } from '../errors.js';
import type { Model, ModelDescription } from '../model.js';
import type { ModelSpec } from '../spec.js';
import { referenceForward } from './cpu-reference.js';
import { describeLayers } from './describe.js';
import { batchOf, checkBatchOption } from './input.js';

/** backend: 'cpu': the CPU reference behind the Model interface. */
export class CpuModel implements Model {
  readonly backend = 'cpu';
  readonly inputSize: number;
  readonly outputSize: number;
  readonly inputNames?: readonly string[];
  readonly outputNames?: readonly string[];
  readonly features?: readonly string[];
  readonly labels?: readonly string[];
  private spec: ModelSpec | null;

  constructor(spec: ModelSpec) {
    this.spec = spec;
    this.inputSize = spec.inputSize;
    this.outputSize = spec.outputSize;
    this.inputNames = spec.inputNames;
    this.outputNames = spec.outputNames;
    this.features = spec.features;
    this.labels = spec.labels;
  }

  async run(x: Float32Array): Promise<Float32Array> {
    if (!this.spec) throw new DisposedError();
    const batch = batchOf(x, this.inputSize);
    return Float32Array.from(referenceForward(this.spec, x, batch));
  }

  describe(options: { batch?: number } = {}): ModelDescription {
    if (!this.spec) throw new DisposedError();
    return {
      backend: 'cpu',
      inputSize: this.inputSize,
      outputSize: this.outputSize,
      batch: checkBatchOption(options.batch),
      layers: describeLayers(this.spec),
      dispatches: [],
      submitsPerRun: 0,
      gpuBytes: { weights: 0, activations: 0 },
      adapter: null,
    };
  }

  async dispose(): Promise<void> {
    this.spec = null;
  }
}
