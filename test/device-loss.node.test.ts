import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DeviceLostError, loadModel, type LoadOptions, type Model } from '../src/index.js';
import { expectClose } from './helpers/compare.js';
import { nodeDevice, nodeGpu } from './helpers/node-gpu.js';
import { makeRandomModel, randomInput } from './helpers/random-model.js';

/**
 * Device-loss recovery. A loss is made by destroying the model's device (Dawn in Node offers no
 * other way to lose one on purpose; the `lost` promise settles the same). Expected outputs come
 * from the float64 reference, with compare.ts's tolerance.
 */
const config = { input: 12, blocks: [{ hidden: 20, bn: true }, { hidden: 9, out: 5 }], head: { out: 3 } };
const { bytes } = makeRandomModel(config);
const x = randomInput(6, 12, 3);
let gpu: GPU;
let expected: Float32Array;
let server: Server;
let url: string;
beforeAll(async () => {
  gpu = await nodeGpu();
  expected = await (await loadModel(bytes, { backend: 'cpu' })).run(x);
  server = createServer((_, res) => res.end(bytes));
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/model.safetensors`;
});
afterAll(() => server.close());

async function loseDevice(model: Model): Promise<void> {
  const device = model.device!;
  device.destroy();
  await device.lost;
}

describe('a device resgpu owns is replaced, unprompted', () => {
  const sources: [string, () => unknown, Partial<LoadOptions>][] = [
    ['a URL (read again)', () => url, {}],
    ['a Blob (read again)', () => new Blob([bytes.slice()]), {}],
    ['bytes with keepWeightsOnHost', () => bytes.slice(), { keepWeightsOnHost: true }],
  ];
  test.each(sources)('%s: the next run recovers on a new device; onDeviceLost reports it', async (_, source, extra) => {
    const losses: { willRecover: boolean }[] = [];
    const model = await loadModel(source() as never, { gpu, onDeviceLost: (info) => losses.push(info), ...extra });
    expectClose(await model.run(x), expected);
    const first = model.device;
    await loseDevice(model);
    expect(losses).toEqual([expect.objectContaining({ willRecover: true })]);
    expect(() => model.describe()).toThrow(/the next run\(\) rebuilds the model on a new device/);
    expectClose(await model.run(x), expected);
    expect(model.describe().dispatches.length).toBe(5);
    expect(model.device).not.toBe(first);
    // And again: the new device is watched too.
    await loseDevice(model);
    const [a, b] = await Promise.all([model.run(x), model.run(x.subarray(0, 24))]);
    expectClose(a, expected);
    expectClose(b, expected.subarray(0, 6));
    expect(losses).toHaveLength(2);
    await model.dispose();
  });

  test('a run in flight when the device is lost rejects with DeviceLostError; the next one recovers', async () => {
    const model = await loadModel(url, { gpu });
    await model.run(x); // plans made: the run below goes straight to the GPU
    const inFlight = model.run(x);
    model.device!.destroy();
    // The device goes before the run's work reaches the GPU: its read-back fails (in Dawn, a DOMException with no message).
    await expect(inFlight).rejects.toBeInstanceOf(DeviceLostError);
    expectClose(await model.run(x), expected);
    await model.dispose();
  });

  test('bytes without keepWeightsOnHost cannot be read again: DeviceLostError says how to make loads recoverable', async () => {
    const losses: { willRecover: boolean }[] = [];
    const model = await loadModel(bytes.slice(), { gpu, onDeviceLost: (info) => losses.push(info) });
    await loseDevice(model);
    expect(losses).toEqual([expect.objectContaining({ willRecover: false })]);
    const failure = model.run(x);
    await expect(failure).rejects.toBeInstanceOf(DeviceLostError);
    await expect(failure).rejects.toThrow(/keepWeightsOnHost: true/);
    await model.dispose();
  });
});

test('a device passed in is never replaced: DeviceLostError says to pass a new one', async () => {
  const device = await nodeDevice();
  const model = await loadModel(url, { device });
  expect(model.device).toBe(device);
  await loseDevice(model);
  for (let i = 0; i < 2; i++) {
    const failure = model.run(x);
    await expect(failure).rejects.toBeInstanceOf(DeviceLostError);
    await expect(failure).rejects.toThrow(/passed in as \{ device \}.*with a new device/);
  }
  expect(model.device).toBe(device);
  await model.dispose();
});
