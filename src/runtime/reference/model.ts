import { DisposedError } from '../../errors.js';
import type { OpGraph } from '../../graph/op-graph.js';
import type { Model, ModelDescription } from '../../model.js';
import { ModelBase, type InputPolicy } from '../model-base.js';
import { referenceForward } from './forward.js';

/** backend: 'cpu' (alias 'reference'): the float64 CPU reference behind the Model interface. */
export class ReferenceModel extends ModelBase implements Model {
  readonly backend = 'cpu';
  private graph: OpGraph | null;

  constructor(graph: OpGraph, policy: InputPolicy = {}) {
    super(graph, policy);
    this.graph = graph;
  }

  async run(x: Float32Array): Promise<Float32Array> {
    if (!this.graph) throw new DisposedError();
    const batch = this.batchOf(x);
    return Float32Array.from(referenceForward(this.graph, x, batch));
  }

  describe(options: { batch?: number } = {}): ModelDescription {
    if (!this.graph) throw new DisposedError();
    return this.describeOnCpu('cpu', options.batch);
  }

  async dispose(): Promise<void> {
    this.graph = null;
  }
}
