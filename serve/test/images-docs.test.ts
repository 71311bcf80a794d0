import puppeteer from 'puppeteer-core';
import { expect, test } from 'vitest';
import { loadModel } from 'resgpu';
import { CHROMIUM, CHROMIUM_ARGS } from '../../test/helpers/chrome.js';
import { makeRandomCnn } from '../../test/helpers/random-cnn.js';
import { startServer } from './helpers.js';

/** /docs in headless Chromium: for an image model, "Try it out" on /v1/predict offers a file upload. */
// POST /v1/predict's block: Swagger UI's id ends in its operationId ("predict"; the per-model route's is "predict_cnn").
const OP = '.opblock[id$="-predict"]';

test('/docs shows an image upload field for an image model', async () => {
  const model = await loadModel(makeRandomCnn('basic').bytes, { backend: 'cpu' });
  const server = await startServer([{ name: 'cnn', model }]);
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  try {
    const page = await browser.newPage();
    await page.goto(`${server.url}/docs`);
    await page.waitForSelector(OP, { timeout: 30_000 });
    await page.click(`${OP} .opblock-summary`);
    await page.waitForSelector(`${OP} .try-out__btn`);
    await page.click(`${OP} .try-out__btn`);
    const select = `${OP} .body-param-content-type select`;
    await page.waitForSelector(select);
    expect(await page.$$eval(`${select} option`, (os) => os.map((o) => (o as HTMLOptionElement).value))).toContain('multipart/form-data');
    await page.select(select, 'multipart/form-data');
    await page.waitForSelector(`${OP} input[type=file]`, { timeout: 10_000 });
  } finally {
    await browser.close();
    await server.close();
    await model.dispose();
  }
});
