import { detectFormat, SNIFF_BYTES } from './detect.js';
import { torchZipParser } from './pytorch.js';
import { safetensorsParser } from './safetensors.js';
import type { Arrived } from './arrived.js';
import type { IncrementalParser, TensorEvents } from './tensors.js';

/** A parser that picks the format by content (detect.ts) once enough of the file is in. */
export function weightParser(events: TensorEvents, external: Map<string, Uint8Array> = new Map()): IncrementalParser {
  let parser: IncrementalParser | null = null;
  const choose = (a: Arrived, final: boolean) => {
    if (parser || (a.arrived < SNIFF_BYTES && !final)) return parser;
    const format = detectFormat(a.file.subarray(0, a.arrived), final ? a.arrived : a.file.byteLength);
    parser = format === 'zip' ? torchZipParser(events) : format === 'safetensors' ? safetensorsParser(events) : lazyOnnxParser(events, external);
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
function lazyOnnxParser(events: TensorEvents, external: Map<string, Uint8Array>): IncrementalParser {
  return {
    advance: () => undefined,
    finish: async (a) => (await import('./onnx/index.js')).onnxParser(events, external).finish(a),
  };
}
