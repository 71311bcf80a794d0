import { loadModel } from '../../src/index.js';
import { expectClose } from './compare.js';
import { makeRandomModel, randomInput, type ModelConfig } from './random-model.js';

/** Makes the model, runs one batch on WebGPU and on the CPU reference, and compares them. */
export async function expectGpuMatchesReference(device: GPUDevice, config: ModelConfig, batch: number): Promise<void> {
  const { bytes } = makeRandomModel(config);
  const gpu = await loadModel(bytes, { device });
  const cpu = await loadModel(bytes, { backend: 'cpu' });
  const x = randomInput(batch, config.input, batch);
  expectClose(await gpu.run(x), await cpu.run(x));
  await gpu.dispose();
}
