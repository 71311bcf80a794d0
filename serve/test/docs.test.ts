import puppeteer from 'puppeteer-core';
import { expect, test } from 'vitest';
import { loadModel } from 'resgpu';
import { CHROMIUM, CHROMIUM_ARGS } from '../../test/helpers/chrome.js';
import { example, startServer } from './helpers.js';

/** /docs in headless Chromium (Debian's, through puppeteer-core): Swagger UI shows the predict and infer operations, from the server alone. */
test('/docs shows the predict and infer operations, with every file served by the server itself', async () => {
  const model = await loadModel(example('breast_cancer.safetensors'), { backend: 'cpu' });
  const server = await startServer([{ name: 'breast_cancer', file: 'breast_cancer.safetensors', model }]);
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  try {
    const page = await browser.newPage();
    const requested: string[] = [];
    page.on('request', (r) => void requested.push(r.url()));
    await page.goto(`${server.url}/docs`);
    await page.waitForSelector('.opblock-summary-path', { timeout: 30_000 });
    const operations = await page.$$eval('.opblock-summary', (els) => els.map((e) => (e as HTMLElement).innerText.replace(/\s+/g, ' ')));
    expect(operations.some((o) => o.includes('POST') && o.includes('/v1/predict') && o.includes('Run breast_cancer on rows'))).toBe(true);
    expect(operations.some((o) => o.includes('POST') && o.includes('/v2/models/{name}/infer') && o.includes('Inference'))).toBe(true);
    expect(await page.$eval('.info .title', (e) => (e as HTMLElement).innerText)).toContain('breast_cancer.safetensors');
    // Offline: no CDN, nothing fetched from anywhere but the server.
    const foreign = requested.filter((u) => !u.startsWith(server.url) && !u.startsWith('data:'));
    expect(foreign).toEqual([]);
  } finally {
    await browser.close();
    await server.close();
  }
});
