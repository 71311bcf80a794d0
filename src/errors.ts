import { runningInNode } from './environment.js';

/**
 * Every failure resgpu reports on purpose is a ResgpuError, with a stable `code` that code can
 * switch on and a message a person can act on. Anything else escaping the library is a bug.
 */
/** The stable `code` of every ResgpuError, one per subclass: switch on it, or on the class. */
export type ResgpuErrorCode =
  | 'INVALID_INPUT'
  | 'DISPOSED'
  | 'MODEL_FORMAT'
  | 'GRAPH'
  | 'WEBGPU_UNAVAILABLE'
  | 'GPU_LIMIT'
  | 'DEVICE_LOST'
  | 'FETCH'
  | 'INVALID_OPTION'
  | 'ABORTED'
  | 'GPU_VALIDATION'
  | 'WASM_UNAVAILABLE'
  | 'SELF_TEST';

/** The base class of every error resgpu reports on purpose. */
export class ResgpuError extends Error {
  /** What went wrong, as a stable code (the subclass's). */
  readonly code: ResgpuErrorCode;
  /** `name` is given explicitly, not taken from the class: minifiers rename classes. */
  constructor(code: ResgpuErrorCode, message: string, name = 'ResgpuError') {
    super(message);
    this.code = code;
    this.name = name;
  }
}

/** The input handed to `run()` cannot be a batch for this model. */
export class InputError extends ResgpuError {
  constructor(message: string) {
    super('INVALID_INPUT', message, 'InputError');
  }
}

/** `run()` or `describe()` on a model after `dispose()`. */
export class DisposedError extends ResgpuError {
  constructor() {
    super('DISPOSED', 'This model has been disposed; load it again with loadModel() to run it.', 'DisposedError');
  }
}

/** The bytes are not a well-formed model file (safetensors, manifest JSON, ...). */
export class ModelFormatError extends ResgpuError {
  constructor(message: string) {
    super('MODEL_FORMAT', message, 'ModelFormatError');
  }
}

/** The file is well formed but does not describe a network resgpu can run. */
export class GraphError extends ResgpuError {
  constructor(message: string) {
    super('GRAPH', message, 'GraphError');
  }
}

/** Where WebGPU comes from in Node, and what to do when it finds no adapter. */
const NODE_WEBGPU_ADVICE =
  "In Node, WebGPU (the 'webgpu' package: Dawn) needs a Vulkan driver: install your GPU's driver, " +
  "or set VK_ICD_FILENAMES to SwiftShader's ICD, WebGPU on the CPU (Debian's chromium package installs it as " +
  '/usr/lib/chromium/vk_swiftshader_icd.json, and nodeGpu() from resgpu/node uses it when no driver is configured). ' +
  "Or run without WebGPU: { backend: 'wasm' } (WebAssembly SIMD) or { backend: 'cpu' }.";

const BROWSER_WEBGPU_ADVICE =
  'In a browser, use one with WebGPU (Chrome or Edge 113+, Safari 26+, Firefox 141+ on Windows) over https or ' +
  "localhost. Or run without WebGPU: { backend: 'wasm' } (WebAssembly SIMD) or { backend: 'cpu' }.";

/**
 * No WebGPU adapter or device could be obtained. The message names the fixes where it ran:
 * a GPU driver or SwiftShader in Node, a WebGPU browser in a page, or a backend without WebGPU.
 */
export class WebGPUUnavailableError extends ResgpuError {
  constructor(detail: string) {
    super(
      'WEBGPU_UNAVAILABLE',
      `WebGPU is not available: ${detail}. ${runningInNode() ? NODE_WEBGPU_ADVICE : BROWSER_WEBGPU_ADVICE}`,
      'WebGPUUnavailableError',
    );
  }
}

/** The request exceeds what this GPU device allows (buffer size, dispatch size). */
export class GpuLimitError extends ResgpuError {
  constructor(message: string) {
    super('GPU_LIMIT', message, 'GpuLimitError');
  }
}

/** The GPU device was lost (driver reset, tab in background too long, device destroyed). */
export class DeviceLostError extends ResgpuError {
  /** `remedy`: what to do, when it is not to load the model again. */
  constructor(reason: string, remedy = 'load the model again') {
    super('DEVICE_LOST', `The GPU device was lost (${reason}); ${remedy}.`, 'DeviceLostError');
  }
}

/** The model could not be fetched or read (network error, HTTP status other than 2xx, a file missing on disk). */
export class FetchError extends ResgpuError {
  constructor(message: string) {
    super('FETCH', message, 'FetchError');
  }
}

/** A loadModel option has a value resgpu does not know (an unknown backend, say). */
export class OptionError extends ResgpuError {
  constructor(message: string) {
    super('INVALID_OPTION', message, 'OptionError');
  }
}

/** The load was cancelled (its AbortSignal fired, or it was abandoned part way). Named like the DOM's AbortError. */
export class AbortError extends ResgpuError {
  constructor(message = 'Loading was cancelled.') {
    super('ABORTED', message, 'AbortError');
  }
}

/**
 * The GPU refused a command resgpu issued (a WebGPU validation error). Always a resgpu bug or
 * a shape resgpu should have refused earlier: reported instead of a silently wrong result.
 */
export class GpuValidationError extends ResgpuError {
  constructor(message: string) {
    super('GPU_VALIDATION', message, 'GpuValidationError');
  }
}

/** backend: 'wasm' on a JavaScript engine without WebAssembly SIMD (or without WebAssembly). */
export class WasmUnavailableError extends ResgpuError {
  constructor(detail: string) {
    super('WASM_UNAVAILABLE', `WebAssembly SIMD is not available: ${detail}.`, 'WasmUnavailableError');
  }
}

/**
 * The model's golden vectors (inputs and PyTorch's outputs, carried by the file or given as
 * `goldenVectors`) did not come out of this backend within the stated tolerance: a wrong file,
 * a driver bug or a broken adapter. The model is disposed; nothing would score a patient with it.
 */
export class SelfTestError extends ResgpuError {
  constructor(
    message: string,
    /** Where it ran: the backend, the adapter (WebGPU) and the kernel variants of its dispatches. */
    readonly where: { backend: string; adapter: string | null; variants: string[] },
    /** The row furthest off, its largest error relative to max(1, |expected|), and the tolerance. */
    readonly worst: { row: number; column: number; error: number; tolerance: number },
  ) {
    super('SELF_TEST', message, 'SelfTestError');
  }
}
