/**
 * The WebGPU flag values resgpu uses, as the spec fixes them. Using these rather than the
 * GPUBufferUsage / GPUMapMode / GPUShaderStage globals lets resgpu run in Node, where the
 * 'webgpu' package does not install those globals unless asked to.
 */
export const BufferUsage = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
  QUERY_RESOLVE: 0x0200,
} as const;

export const MapMode = { READ: 0x0001 } as const;

export const ShaderStage = { COMPUTE: 0x4 } as const;
