import { expect, test } from 'vitest';
import { AbandonedError, DynamicBatcher } from '../src/batcher.js';

/**
 * The batcher's own rules, on a stand-in for model.run() whose output row is a known function
 * of its input row (y = [2·x0, x1 + 1]): that is enough to see that rows come back to the
 * request that sent them. The engine's numbers are checked over HTTP in serve.node.test.ts.
 */
function standIn(options: { delayMs?: number; failOnce?: boolean } = {}) {
  const runs: number[] = [];
  let fail = options.failOnce ?? false;
  const run = async (x: Float32Array) => {
    runs.push(x.length / 2);
    await new Promise((r) => setTimeout(r, options.delayMs ?? 5));
    if (fail) {
      fail = false;
      throw new Error('device lost');
    }
    const y = new Float32Array(x.length);
    for (let i = 0; i < x.length; i += 2) (y[i] = 2 * x[i]!), (y[i + 1] = x[i + 1]! + 1);
    return y;
  };
  return { run, runs };
}

const request = (id: number, rows: number) => Float32Array.from({ length: rows * 2 }, (_, i) => id * 100 + i);
const expected = (x: Float32Array) => Array.from(x, (v, i) => (i % 2 ? v + 1 : 2 * v));

test('concurrent requests share runs of at most maxBatchRows rows, and each gets its own rows back', async () => {
  const { run, runs } = standIn();
  const batcher = new DynamicBatcher(run, 2, 2, { maxBatchRows: 8, maxWaitUs: 0 });
  const xs = Array.from({ length: 30 }, (_, id) => request(id, 1 + (id % 3)));
  const ys = await Promise.all(xs.map((x) => batcher.predict(x, x.length / 2)));
  ys.forEach((y, i) => expect(Array.from(y)).toEqual(expected(xs[i]!)));
  expect(runs.length).toBeLessThan(30);
  expect(Math.max(...runs)).toBeLessThanOrEqual(8);
  expect(runs.reduce((a, b) => a + b, 0)).toBe(xs.reduce((n, x) => n + x.length / 2, 0));
});

test('a request larger than maxBatchRows runs alone; padding rounds runs up to a power of two', async () => {
  const { run, runs } = standIn();
  const batcher = new DynamicBatcher(run, 2, 2, { maxBatchRows: 4, maxWaitUs: 0, padToPowerOfTwo: true });
  const big = request(1, 5);
  expect(Array.from(await batcher.predict(big, 5))).toEqual(expected(big));
  const three = request(2, 3);
  expect(Array.from(await batcher.predict(three, 3))).toEqual(expected(three));
  expect(runs).toEqual([8, 4]);
});

test('maxWaitUs holds the first request for the ones that follow', async () => {
  const { run, runs } = standIn();
  const batcher = new DynamicBatcher(run, 2, 2, { maxBatchRows: 64, maxWaitUs: 50_000 });
  const first = batcher.predict(request(1, 1), 1);
  await new Promise((r) => setTimeout(r, 10));
  const second = batcher.predict(request(2, 1), 1);
  await Promise.all([first, second]);
  expect(runs).toEqual([2]);
});

test('a failed run rejects its own requests only; the queue goes on', async () => {
  const { run } = standIn({ failOnce: true, delayMs: 20 });
  const depths: number[] = [];
  const batcher = new DynamicBatcher(run, 2, 2, { maxBatchRows: 1, maxWaitUs: 0 }, { onQueueDepth: (n) => depths.push(n) });
  const a = batcher.predict(request(1, 1), 1);
  const b = batcher.predict(request(2, 1), 1);
  await expect(a).rejects.toThrow('device lost');
  expect(Array.from(await b)).toEqual(expected(request(2, 1)));
  expect(batcher.queueDepth).toBe(0);
  expect(depths.at(-1)).toBe(0);
});

test('a request whose client went away leaves the queue before its run: it costs no rows', async () => {
  const { run, runs } = standIn({ delayMs: 30 });
  const batcher = new DynamicBatcher(run, 2, 2, { maxBatchRows: 64, maxWaitUs: 0 });
  const first = batcher.predict(request(1, 1), 1); // starts a run at once
  await new Promise((r) => setImmediate(r));
  const gone = new AbortController();
  const abandoned = batcher.predict(request(2, 5), 5, gone.signal); // waits behind it
  const kept = batcher.predict(request(3, 2), 2);
  gone.abort();
  await expect(abandoned).rejects.toBeInstanceOf(AbandonedError);
  expect(Array.from(await kept)).toEqual(expected(request(3, 2)));
  await first;
  expect(runs).toEqual([1, 2]); // the abandoned request's 5 rows never ran
  expect(batcher.queueDepth).toBe(0);
});
