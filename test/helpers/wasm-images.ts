/**
 * Whether the WebAssembly backend runs image steps (conv, pooling). Until its conv kernels are
 * merged it refuses them by name (graph/fuse.ts: "The WebAssembly backend does not run …"), and
 * the Chrome tests that put image models on WebAssembly (chrome-digits: backend 'auto' on
 * SwiftShader; chrome-vision: backend 'wasm') check that refusal instead. Flip to true with that
 * merge: those tests then check the outputs against PyTorch, as on WebGPU.
 */
export const WASM_RUNS_IMAGES = true;

/** The refusal the WebAssembly backend gives an image model today. */
export const WASM_IMAGE_REFUSAL = /OptionError: The WebAssembly backend does not run .+ yet; load it with backend: 'webgpu' or 'cpu'\./;
