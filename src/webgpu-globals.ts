/**
 * The two WebGPU names in resgpu's public declarations (`LoadOptions.gpu` and `.device`,
 * `nodeGpu()`), declared empty. Interfaces merge: where a consumer has WebGPU's types
 * (@webgpu/types, or a lib.dom that includes them) these add nothing and the full types apply;
 * where it has none, they keep resgpu's .d.ts compiling with `skipLibCheck: false` instead of
 * failing with "Cannot find name 'GPU'" (@webgpu/types itself needs the DOM library, which a
 * Node project does not have).
 */
declare global {
  interface GPU {}
  interface GPUDevice {}
}

export {};
