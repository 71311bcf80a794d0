import { describeLayers } from '../graph/describe.js';
import { graphSizes, type ImagePreprocess, type LayerDescription, type OpGraph } from '../graph/op-graph.js';
import type { ModelDescription } from '../model.js';
import { batchOf, checkBatchOption, checkFinite } from './input.js';

/** How every backend checks run() inputs. */
export interface InputPolicy {
  /** Refuse NaN and ±Infinity with an InputError naming the row and column. */
  rejectNonFinite?: boolean;
  /** Batch-invariant kernels (LoadOptions.deterministic). */
  deterministic?: boolean;
}

/** What every backend's model shares: sizes, the file's names, and the layer description. */
export abstract class ModelBase {
  readonly inputSize: number;
  readonly outputSize: number;
  /** One input row's shape: [features] or [C, H, W]. */
  readonly inputShape: readonly number[];
  readonly inputNames?: readonly string[];
  readonly outputNames?: readonly string[];
  /** Names of the input columns and of the output classes, where the file carries them. */
  readonly features?: readonly string[];
  readonly labels?: readonly string[];
  /** An image model's preprocessing, where the file records it. */
  readonly preprocess?: ImagePreprocess;
  /** The description only: holding the graph would hold the file's bytes. */
  private readonly layers: LayerDescription[];
  private readonly rejectNonFinite: boolean;
  /** Whether a row's outputs are bitwise independent of the batch around it (LoadOptions.deterministic). */
  readonly deterministic: boolean;

  protected constructor(graph: OpGraph, policy: InputPolicy = {}) {
    this.rejectNonFinite = policy.rejectNonFinite === true;
    this.deterministic = policy.deterministic === true;
    const { inputSize, outputSize } = graphSizes(graph);
    this.inputSize = inputSize;
    this.outputSize = outputSize;
    this.inputShape = Object.freeze([...graph.values[0]!.shape]);
    this.inputNames = graph.inputNames;
    this.outputNames = graph.outputNames;
    this.features = graph.features;
    this.labels = graph.labels;
    if (graph.preprocess) this.preprocess = graph.preprocess;
    this.layers = describeLayers(graph);
  }

  /** Checks a run() input (shape, and finiteness when asked) and returns its batch size. */
  protected batchOf(x: unknown): number {
    const batch = batchOf(x, this.inputSize, this.inputShape);
    if (this.rejectNonFinite) checkFinite(x as Float32Array, this.inputSize);
    return batch;
  }

  /** The parts of describe() that do not depend on the backend. */
  protected describeModel(batch: number): Pick<ModelDescription, 'inputSize' | 'outputSize' | 'batch' | 'layers' | 'deterministic'> {
    return { inputSize: this.inputSize, outputSize: this.outputSize, batch, layers: this.layers, deterministic: this.deterministic };
  }

  /** describe() of a backend on the CPU: no dispatches, no GPU memory, f32 (or wider) arithmetic. */
  protected describeOnCpu(backend: 'wasm' | 'cpu', batch: unknown): ModelDescription {
    return {
      backend,
      ...this.describeModel(checkBatchOption(batch)),
      dispatches: [],
      submitsPerRun: 0,
      gpuBytes: { weights: 0, activations: 0 },
      adapter: null,
      precision: 'f32',
    };
  }
}
