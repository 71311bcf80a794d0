import { InputError } from '../errors.js';
import { describeLayers } from '../graph/describe.js';
import { graphSizes, rowSize, type ImagePreprocess, type LayerDescription, type OpGraph } from '../graph/op-graph.js';
import { reshapeGraph, shapeKey, shapesOnly } from '../graph/reshape.js';
import type { DescribeOptions, ModelDescription, RunOptions } from '../model.js';
import { batchOf, checkBatchOption, checkFinite, checkRunOptions } from './input.js';

/** A run's input as checked: its batch, and the row shape it runs at (key null: the loaded one). */
export interface RunInput {
  batch: number;
  shape: readonly number[];
  /** shapeKey(shape) for another size than the loaded one; null for the loaded one. */
  key: string | null;
}

/** How many other input sizes' shapes a model keeps (each backend caps its own plans too). */
const MAX_SIZES = 8;

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
  /** The graph's shapes, without its tensors: other input sizes are planned from it. */
  private readonly skeleton: OpGraph;
  /** The skeleton at other input sizes, by shapeKey, most recently used last; with what the backend derived from it. */
  private readonly sizes = new Map<string, { graph: OpGraph; derived?: unknown }>();

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
    this.skeleton = shapesOnly(graph);
  }

  /**
   * Checks a run() input (shape, and finiteness when asked) against the row shape it runs at:
   * the loaded one, or options.inputShape (an image model at another size, whose graph is
   * checked here, before any backend plans it).
   */
  protected inputOf(x: unknown, options?: RunOptions): RunInput {
    const { shape, key } = this.rowShape(options);
    const size = rowSize(shape);
    const batch = batchOf(x, size, shape);
    if (this.rejectNonFinite) checkFinite(x as Float32Array, size);
    return { batch, shape, key };
  }

  /** The row shape asked for, checked against the graph; key null when it is the loaded one. */
  protected rowShape(options?: { inputShape?: readonly number[] }): { shape: readonly number[]; key: string | null } {
    checkRunOptions(options);
    const wanted = options?.inputShape;
    if (!wanted || shapeKey(wanted) === shapeKey(this.inputShape)) return { shape: this.inputShape, key: null };
    this.graphAt(shapeKey(wanted), wanted);
    return { shape: Object.freeze([...wanted]), key: shapeKey(wanted) };
  }

  /** The skeleton graph at another input size (its values' shapes; no tensors), made once and kept. */
  protected graphAt(key: string, shape: readonly number[]): OpGraph {
    return this.sizeEntry(key, shape).graph;
  }

  /**
   * What the backend makes of the graph at another input size (its fused steps, its layout),
   * made once and kept with that size's graph, so that both are capped and evicted together.
   */
  protected atSize<T>(key: string, shape: readonly number[], make: (graph: OpGraph) => T): T {
    const entry = this.sizeEntry(key, shape);
    entry.derived ??= make(entry.graph);
    return entry.derived as T;
  }

  /** The refusal of a size at which the fusion pass gives other steps than at the loaded size (so other weights). */
  protected otherSteps(shape: readonly number[]): InputError {
    return new InputError(
      `run({ inputShape: [${shape.join(', ')}] }): at that size this model fuses into other steps than at [${this.inputShape.join(', ')}]; load it again with { inputShape: [${shape.join(', ')}] }.`,
    );
  }

  private sizeEntry(key: string, shape: readonly number[]): { graph: OpGraph; derived?: unknown } {
    let entry = this.sizes.get(key);
    this.sizes.delete(key);
    entry ??= { graph: reshapeGraph(this.skeleton, shape) };
    this.sizes.set(key, entry);
    if (this.sizes.size > MAX_SIZES) this.sizes.delete(this.sizes.keys().next().value!);
    return entry;
  }

  /** The parts of describe() that do not depend on the backend. */
  protected describeModel(batch: number, at: { shape: readonly number[]; key: string | null } = { shape: this.inputShape, key: null }): Pick<ModelDescription, 'inputSize' | 'outputSize' | 'batch' | 'layers' | 'deterministic'> {
    // An image output (no pooling to 1×1) has another size at another input size.
    const outputSize = at.key === null ? this.outputSize : graphSizes(this.graphAt(at.key, at.shape)).outputSize;
    return { inputSize: rowSize(at.shape), outputSize, batch, layers: this.layers, deterministic: this.deterministic };
  }

  /** describe() of a backend on the CPU: no dispatches, no GPU memory, f32 (or wider) arithmetic. */
  protected describeOnCpu(backend: 'wasm' | 'cpu', options: DescribeOptions = {}): ModelDescription {
    return {
      backend,
      ...this.describeModel(checkBatchOption(options.batch), this.rowShape(options)),
      dispatches: [],
      submitsPerRun: 0,
      gpuBytes: { weights: 0, activations: 0 },
      adapter: null,
      precision: 'f32',
    };
  }
}
