import { DisposedError } from '../../errors.js';
import type { OpGraph } from '../../graph/op-graph.js';
import type { DescribeOptions, Model, ModelDescription, RunOptions } from '../../model.js';
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

  async run(x: Float32Array, options?: RunOptions): Promise<Float32Array> {
    if (!this.graph) throw new DisposedError();
    const { batch, key } = this.inputOf(x, options);
    // Another size: the graph's nodes and tensors, with that size's value shapes.
    const graph = key === null ? this.graph : { ...this.graph, values: this.graphAt(key, options!.inputShape!).values };
    return Float32Array.from(referenceForward(graph, x, batch));
  }

  describe(options: DescribeOptions = {}): ModelDescription {
    if (!this.graph) throw new DisposedError();
    return this.describeOnCpu('cpu', options);
  }

  async dispose(): Promise<void> {
    this.graph = null;
  }
}
