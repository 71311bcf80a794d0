import { WebGPUUnavailableError } from '../../errors.js';

export interface DeviceOptions {
  /** A GPU object to use instead of navigator.gpu (in Node: create([]) from the 'webgpu' package). */
  gpu?: GPU;
  /** An existing device to share; resgpu then never destroys it. */
  device?: GPUDevice;
  /** Ask for 'timestamp-query' (when the adapter has it) to time the kernels of each run. */
  profile?: boolean;
}

export interface AcquiredDevice {
  device: GPUDevice;
  /** True when resgpu created the device and so must destroy it on dispose. */
  owned: boolean;
  adapter: { vendor: string; architecture: string; description: string } | null;
  /**
   * The GPU object the device came from, held for as long as the device is used: in Node,
   * Dawn tears its instance down when that object is garbage collected, devices and all.
   */
  gpu: GPU | null;
}

function describeAdapter(info: GPUAdapterInfo | undefined) {
  return info ? { vendor: info.vendor, architecture: info.architecture, description: info.description } : null;
}

/**
 * The device to run on: the one passed in, or a new one from the given GPU or navigator.gpu,
 * with the buffer-size limits raised to what the adapter allows (large batches need them).
 */
export async function acquireDevice(options: DeviceOptions): Promise<AcquiredDevice> {
  if (options.device) {
    return { device: options.device, owned: false, adapter: describeAdapter(options.device.adapterInfo), gpu: options.gpu ?? null };
  }
  const gpu = options.gpu ?? (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) throw new WebGPUUnavailableError('navigator.gpu is undefined and no { gpu } or { device } was given');
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new WebGPUUnavailableError('requestAdapter() found no adapter');
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      label: 'resgpu',
      requiredFeatures: options.profile && adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
      requiredLimits: {
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
      },
    });
  } catch (e) {
    throw new WebGPUUnavailableError(`requestDevice() failed (${(e as Error).message})`);
  }
  return { device, owned: true, adapter: describeAdapter(adapter.info), gpu };
}
