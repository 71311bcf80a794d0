/** True in Node (and runtimes that present themselves as Node): where files are read from disk and the WebGPU advice differs. */
export function runningInNode(): boolean {
  return typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';
}
