import { ModelFormatError } from '../errors.js';
import { onnxParser } from './onnx/index.js';
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
        : onnxParser(events, external);
    return parser;
  };
  return {
    advance: (a) => choose(a, false)?.advance(a),
    finish: (a) => choose(a, true)!.finish(a),
  };
}
