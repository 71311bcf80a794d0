import { DisposedError } from '../../errors.js';
import type { ModelSpec } from '../../graph/spec.js';
import type { Model, ModelDescription } from '../../model.js';
import { batchOf, checkBatchOption } from '../input.js';
import { ModelBase } from '../model-base.js';
import { referenceForward } from './forward.js';

/** backend: 'cpu' (alias 'reference'): the float64 CPU reference behind the Model interface. */
export class ReferenceModel extends ModelBase implements Model {
  readonly backend = 'cpu';
  private spec: ModelSpec | null;

  constructor(spec: ModelSpec) {
    super(spec);
    this.spec = spec;
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
      ...this.describeModel(checkBatchOption(options.batch)),
      dispatches: [],
      submitsPerRun: 0,
      gpuBytes: { weights: 0, activations: 0 },
      adapter: null,
      precision: 'f32',
    };
  }

  async dispose(): Promise<void> {
    this.spec = null;
  }
}
