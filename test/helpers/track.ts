/**
 * Watches a real device: counts queue submits and the buffers created but not yet destroyed.
 * It wraps the device's own methods; every call still reaches the GPU.
 */
export interface DeviceTracker {
  liveBuffers(): number;
  submits(): number;
  restore(): void;
}

export function trackDevice(device: GPUDevice): DeviceTracker {
  const live = new Set<GPUBuffer>();
  let submits = 0;
  const createBuffer = device.createBuffer;
  const queue = device.queue;
  const submit = queue.submit;
  device.createBuffer = function (descriptor: GPUBufferDescriptor) {
    const buffer = createBuffer.call(device, descriptor);
    const destroy = buffer.destroy;
    live.add(buffer);
    buffer.destroy = function () {
      live.delete(buffer);
      destroy.call(buffer);
    };
    return buffer;
  };
  queue.submit = function (commandBuffers: Iterable<GPUCommandBuffer>) {
    submits++;
    submit.call(queue, commandBuffers);
  };
  return {
    liveBuffers: () => live.size,
    submits: () => submits,
    restore() {
      device.createBuffer = createBuffer;
      queue.submit = submit;
    },
  };
}
