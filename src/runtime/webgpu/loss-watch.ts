/**
 * One watcher per device for its `lost` promise, shared by every model on it. A promise
 * reaction cannot be removed once added, so a model that added its own would leave a few
 * hundred bytes behind on a shared device for every load; models here subscribe and
 * unsubscribe instead, and nothing of a disposed model stays reachable from the device.
 */
type Listener = (info: GPUDeviceLostInfo) => void;

interface Watch {
  info: GPUDeviceLostInfo | null;
  listeners: Set<Listener>;
}

const watches = new WeakMap<GPUDevice, Watch>();

/** Calls `listener` once when the device is lost (at once, asynchronously, if it already is); returns the unsubscribe. */
export function onDeviceLoss(device: GPUDevice, listener: Listener): () => void {
  let watch = watches.get(device);
  if (!watch) {
    const w: Watch = { info: null, listeners: new Set() };
    watches.set(device, (watch = w));
    void device.lost.then((info) => {
      w.info = info;
      for (const l of w.listeners) l(info);
      w.listeners.clear();
    });
  }
  if (watch.info) {
    const info = watch.info;
    queueMicrotask(() => listener(info));
    return () => undefined;
  }
  const listeners = watch.listeners;
  listeners.add(listener);
  return () => listeners.delete(listener);
}
