import { runningInNode } from '../../environment.js';
import { WebGPUUnavailableError } from '../../errors.js';

export interface DeviceOptions {
  /** A GPU object to use instead of navigator.gpu (in Node: nodeGpu() from resgpu/node). */
  gpu?: GPU;
  /** An existing device to share; resgpu then never destroys it. */
  device?: GPUDevice;
  profile?: boolean;
}

export interface AcquiredDevice {
  device: GPUDevice;
  /** True when resgpu created the device and so must destroy it on dispose. */
  owned: boolean;
  adapter: AdapterDescription | null;
  /**
   * The GPU object the device came from, held for as long as the device is used: in Node,
   * Dawn tears its instance down when that object is garbage collected, devices and all.
   */
  gpu: GPU | null;
}

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  description: string;
  /** A CPU pretending to be a GPU (SwiftShader, llvmpipe, a fallback adapter): speed there is CPU speed. */
  software: boolean;
}

/**
 * Software adapters run WebGPU on the CPU: SwiftShader (Chrome, Dawn), Mesa's llvmpipe and
 * lavapipe, Windows' WARP ("Microsoft Basic Render Driver"), and any fallback adapter.
 */
const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|software|basic render/i;

export function isSoftwareAdapter(info: Partial<GPUAdapterInfo> & { isFallbackAdapter?: boolean }): boolean {
  return info.isFallbackAdapter === true || SOFTWARE_ADAPTER.test([info.vendor, info.architecture, info.device, info.description].join(' '));
}

/** What an adapter is, and whether it is a software one: also the benchmark page's header. */
export function describeAdapter(info: GPUAdapterInfo | undefined): AdapterDescription | null {
  if (!info) return null;
  return { vendor: info.vendor, architecture: info.architecture, description: info.description, software: isSoftwareAdapter(info) };
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
  if (!gpu) {
    throw new WebGPUUnavailableError(
      runningInNode()
        ? "Node has no navigator.gpu and no { gpu } or { device } was given: pass { gpu: await nodeGpu() } from 'resgpu/node' (npm install webgpu)"
        : 'navigator.gpu is undefined and no { gpu } or { device } was given',
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new WebGPUUnavailableError('requestAdapter() found no adapter');
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      label: 'resgpu',
      // Timestamps time the kernels: for `profile`, and to measure candidate kernels on a GPU.
      requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
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
