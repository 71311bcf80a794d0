import { DisposedError } from '../../errors.js';
import type { ModelSpec } from '../../graph/spec.js';
import type { Model, ModelDescription } from '../../model.js';
import { ModelBase, type InputPolicy } from '../model-base.js';
import { referenceForward } from './forward.js';

/** backend: 'cpu' (alias 'reference'): the float64 CPU reference behind the Model interface. */
export class ReferenceModel extends ModelBase implements Model {
  readonly backend = 'cpu';
  private spec: ModelSpec | null;

  constructor(spec: ModelSpec, policy: InputPolicy = {}) {
    super(spec, policy);
    this.spec = spec;
  }

  async run(x: Float32Array): Promise<Float32Array> {
    if (!this.spec) throw new DisposedError();
    const batch = this.batchOf(x);
    return Float32Array.from(referenceForward(this.spec, x, batch));
  }

  describe(options: { batch?: number } = {}): ModelDescription {
    if (!this.spec) throw new DisposedError();
    return this.describeOnCpu('cpu', options.batch);
  }

  async dispose(): Promise<void> {
    this.spec = null;
  }
}
