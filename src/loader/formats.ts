import { detectFormat, SNIFF_BYTES } from './detect.js';
import { safetensorsParser } from './safetensors.js';
import type { Arrived } from './arrived.js';
import type { IncrementalParser, TensorEvents } from './tensors.js';

/** A parser that picks the format by content (detect.ts) once enough of the file is in. */
export function weightParser(events: TensorEvents, external: Map<string, Uint8Array> = new Map(), inputShape?: readonly number[]): IncrementalParser {
  let parser: IncrementalParser | null = null;
  const choose = (a: Arrived, final: boolean) => {
    if (parser || (a.arrived < SNIFF_BYTES && !final)) return parser;
    const format = detectFormat(a.file.subarray(0, a.arrived), final ? a.arrived : a.file.byteLength);
    parser = format === 'zip' ? lazyTorchParser(events) : format === 'safetensors' ? safetensorsParser(events) : lazyOnnxParser(events, external, inputShape);
    return parser;
  };
  return {
    advance: (a) => choose(a, false)?.advance(a),
    finish: (a) => choose(a, true)!.finish(a),
  };
}

/**
 * ONNX decoding (protobuf) lives in its own chunk, imported on the first ONNX file, so an app
 * that loads only safetensors or .pt never downloads it. Nothing is lost by waiting: an ONNX
 * file is one protobuf message, decoded only once it has fully arrived anyway.
 */
function lazyOnnxParser(events: TensorEvents, external: Map<string, Uint8Array>, inputShape?: readonly number[]): IncrementalParser {
  return {
    advance: () => undefined,
    finish: async (a) => (await import('./onnx/index.js')).onnxParser(events, external, inputShape).finish(a),
  };
}

/**
 * The .pt reader (zip, unpickling, fflate) and the graph inference of bare state_dicts are a chunk
 * of their own too, imported once the first bytes say "zip", while the rest downloads. Unlike
 * ONNX, a .pt is read as it arrives (data.pkl first, then each storage): arrivals before the
 * chunk is in are remembered, the latest standing for all (each holds everything so far), and
 * handed over at once. A parse error inside that hand-over surfaces at the next arrival or at
 * the end, as it would have at its own arrival.
 */
function lazyTorchParser(events: TensorEvents): IncrementalParser {
  let parser: IncrementalParser | null = null;
  let waiting: Arrived | null = null;
  let failure: { error: unknown } | null = null;
  const loading = import('./pytorch.js').then(({ torchZipParser }) => {
    parser = torchZipParser(events);
    if (waiting) parser.advance(waiting);
  }).catch((error: unknown) => {
    failure = { error };
  });
  const check = () => {
    if (failure) throw failure.error;
  };
  return {
    advance(a) {
      check();
      if (parser) parser.advance(a);
      else waiting = a;
    },
    async finish(a) {
      await loading;
      check();
      await parser!.finish(a);
    },
  };
}
