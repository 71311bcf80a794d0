import { ModelFormatError } from '../errors.js';
import { isLegacyTorch, isZip, LEGACY_TORCH_MESSAGE, torchZipParser } from './pytorch.js';
import { looksLikeSafetensors, safetensorsParser } from './safetensors.js';
import type { Arrived } from './source.js';
import type { IncrementalParser, TensorEvents } from './tensors.js';

/** Bytes needed before the format can be told apart (zip magic, legacy-torch magic). */
const SNIFF_BYTES = 14;

/**
 * A parser that picks the format once enough of the file is in: a zip is PyTorch's, a
 * safetensors header is safetensors, anything else is taken as ONNX's protobuf.
 */
export function weightParser(events: TensorEvents, external: Map<string, Uint8Array> = new Map()): IncrementalParser {
  let parser: IncrementalParser | null = null;
  const choose = (a: Arrived, final: boolean) => {
    if (parser || (a.arrived < SNIFF_BYTES && !final)) return parser;
    const head = a.file.subarray(0, a.arrived);
    if (isLegacyTorch(head)) throw new ModelFormatError(LEGACY_TORCH_MESSAGE);
    parser = isZip(head)
      ? torchZipParser(events)
      : looksLikeSafetensors(head, a.file.byteLength)
        ? safetensorsParser(events)
        : lazyOnnxParser(events, external);
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
